// Package file opens and generates ECDSA P-256 signing keys kept as PKCS#8
// PEM files ("PRIVATE KEY"), named by file: URIs (file:/abs/path.pem or
// file:relative/path.pem). File keys are for development: the private key is
// in the process's memory. Key files must have mode 0600 or stricter; new
// ones are written 0600, in a directory created 0700, atomically and never
// over an existing file.
package file
