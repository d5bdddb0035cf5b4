package ca

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
)

// EncodeResponse encodes the answer to a signing-certificate request as
// Fulcio's v2 API does for a certificate with an embedded SCT:
//
//	{"signedCertificateEmbeddedSct":{"chain":{"certificates":[PEM leaf, PEM CA, ...]}}}
//
// chain is what Issue returned, leaf first; each entry is one PEM
// "CERTIFICATE" block ending in a newline.
func EncodeResponse(chain []*x509.Certificate) []byte {
	type response struct {
		SignedCertificateEmbeddedSct struct {
			Chain struct {
				Certificates []string `json:"certificates"`
			} `json:"chain"`
		} `json:"signedCertificateEmbeddedSct"`
	}
	var r response
	r.SignedCertificateEmbeddedSct.Chain.Certificates = make([]string, 0, len(chain))
	for _, c := range chain {
		r.SignedCertificateEmbeddedSct.Chain.Certificates = append(r.SignedCertificateEmbeddedSct.Chain.Certificates,
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	b, err := json.Marshal(r)
	if err != nil { // strings and structs only: cannot happen
		panic("ca: encoding response: " + err.Error())
	}
	return b
}
