package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
)

// systemStatus reports the process's footprint from /proc/self/status
// (VmRSS and VmHWM, in kB there); zero where /proc is not available.
func systemStatus(started time.Time, dev bool) func() apitype.SystemStatus {
	return func() apitype.SystemStatus {
		st := apitype.SystemStatus{
			Version: version, PID: os.Getpid(), Goroutines: runtime.NumGoroutine(),
			StartedAt: started.Format(time.RFC3339), DevelopmentMode: dev,
		}
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return st
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := bytes.Fields(sc.Bytes())
			if len(f) < 2 {
				continue
			}
			kb, err := strconv.ParseUint(string(f[1]), 10, 64)
			if err != nil {
				continue
			}
			switch string(f[0]) {
			case "VmRSS:":
				st.RSSBytes = kb << 10
			case "VmHWM:":
				st.PeakRSSBytes = kb << 10
			}
		}
		return st
	}
}
