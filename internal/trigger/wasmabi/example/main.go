// Command example is a WebAssembly trigger function written in Go, built
// with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fn.wasm ./internal/trigger/wasmabi/example
//
// and run by a trigger with "function: wasm:fn.wasm". It reads the Kinesis
// records of its event and, for the trigger conformance tests, acts on
// each record's data: {"fail": "error"} fails the whole batch, {"fail":
// "item"} reports the record as failed, {"fail": "spin"} spins until the
// host stops it (the function timeout); other records succeed.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/pricestream/pricestream/internal/trigger/wasmabi"
)

type event struct {
	Records []struct {
		Kinesis struct {
			SequenceNumber string `json:"sequenceNumber"`
			Data           string `json:"data"`
		} `json:"kinesis"`
	} `json:"Records"`
}

func init() { wasmabi.Handle(handle) }

func handle(b []byte) ([]byte, error) {
	var ev event
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, err
	}
	var failed []string
	for _, r := range ev.Records {
		data, err := base64.StdEncoding.DecodeString(r.Kinesis.Data)
		if err != nil {
			return nil, err
		}
		var d struct {
			Fail string `json:"fail"`
		}
		_ = json.Unmarshal(data, &d)
		switch d.Fail {
		case "error":
			return nil, errors.New("poison record " + r.Kinesis.SequenceNumber)
		case "item":
			failed = append(failed, r.Kinesis.SequenceNumber)
		case "spin":
			for n := 0; ; n++ {
				if n < 0 {
					return nil, nil
				}
			}
		}
	}
	if len(failed) > 0 {
		return wasmabi.Failures(failed...), nil
	}
	return nil, nil
}

func main() {}
