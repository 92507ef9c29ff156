package oip_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/pricestream/pricestream/internal/api/oip"
	"github.com/pricestream/pricestream/internal/model"
)

// FuzzOIPInfer sends any body to the infer route of a static endpoint of
// the linear fixture: the answer is 200 or a 4xx, never a panic or a 5xx.
func FuzzOIPInfer(f *testing.F) {
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
	h, err := oip.New(oip.Config{}, func(string) (*model.Endpoint, error) { return ep, nil }, nil)
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	f.Add(false, []byte(`{"id":"1","inputs":[{"name":"input-0","shape":[2,6],"datatype":"FP64","data":[1,2,3,4,5,6,1,2,3,4,5,null]}]}`))
	f.Add(true, []byte(`{"inputs":[{"name":"views","shape":[1],"datatype":"INT64","data":[3]}],"outputs":[{"name":"predict"}]}`))
	f.Fuzz(func(t *testing.T, version bool, body []byte) {
		path := "/v2/models/e/infer"
		if version {
			path = "/v2/models/e/versions/AllTraffic/infer"
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if w.Code != 200 && (w.Code < 400 || w.Code >= 500) {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
