package sagemaker_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/pricestream/pricestream/internal/api/sagemaker"
	"github.com/pricestream/pricestream/internal/model"
)

// FuzzSageMakerInvoke sends any body with any of the content types and
// headers to InvokeEndpoint over a static endpoint of the linear fixture:
// the answer is 200 or a 4xx, never a panic or a 5xx.
func FuzzSageMakerInvoke(f *testing.F) {
	data, err := os.ReadFile(testdata + "linear_logistic.json")
	if err != nil {
		f.Fatal(err)
	}
	rt, err := model.Load("", data)
	if err != nil {
		f.Fatal(err)
	}
	ep, err := model.NewStaticEndpoint("e", rt, nil)
	if err != nil {
		f.Fatal(err)
	}
	h, err := sagemaker.New(sagemaker.Config{}, func(string) (*model.Endpoint, error) { return ep, nil }, nil)
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	f.Add(uint8(0), uint8(0), []byte("1,2,3,4,5,6\n,,,,,\n"))
	f.Add(uint8(1), uint8(1), []byte(`{"instances":[[1,2,3,4,5,6],{"views":1}]}`))
	f.Add(uint8(1), uint8(2), []byte(`{"instances":[{"features":[1,2,3,4,5,6]}]}`))
	types := []string{"text/csv", "application/json", "text/plain", ""}
	accepts := []string{"", "text/csv", "application/json", "*/*", "image/png"}
	f.Fuzz(func(t *testing.T, ct, accept uint8, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/endpoints/e/invocations", bytes.NewReader(body))
		req.Header.Set("Content-Type", types[int(ct)%len(types)])
		req.Header.Set("Accept", accepts[int(accept)%len(accepts)])
		if accept%7 == 3 {
			req.Header.Set(sagemaker.HeaderTargetVariant, "AllTraffic")
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 200 && (w.Code < 400 || w.Code >= 500) {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
