package secval_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/chassis-go/chassis/secval"
)

type benchUser struct {
	ID      int      `json:"id"`
	Name    string   `json:"name"`
	Email   string   `json:"email"`
	Tags    []string `json:"tags"`
	Active  bool     `json:"active"`
	Score   float64  `json:"score"`
	Address struct {
		City string `json:"city"`
		Zip  string `json:"zip"`
	} `json:"address"`
}

// benchDoc returns a realistic JSON array of user objects of at least 64 KiB.
func benchDoc() []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; b.Len() < 64<<10; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"User \u00e9 %d","email":"user%d@example.com","tags":["admin","beta"],`+
			`"active":%t,"score":%d.5,"address":{"city":"Zürich","zip":"80%02d"}}`, i, i, i, i%2 == 0, i, i%100)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func BenchmarkCheck(b *testing.B) {
	doc := benchDoc()
	l := secval.Limits{}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Check(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReader(b *testing.B) {
	doc := benchDoc()
	l := secval.Limits{}
	buf := make([]byte, 4096) // json.Decoder reads in chunks of this order
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{l.Reader(bytes.NewReader(doc))}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode compares json.Decoder.Decode alone with the same decode
// reading through Limits.Reader: the cost of hardening.
func BenchmarkDecode(b *testing.B) {
	doc := benchDoc()
	for _, hardened := range []bool{false, true} {
		b.Run(fmt.Sprintf("secval=%t", hardened), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				var r io.Reader = bytes.NewReader(doc)
				if hardened {
					r = secval.Limits{}.Reader(r)
				}
				var users []benchUser
				if err := json.NewDecoder(r).Decode(&users); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTokenWalk is the alternative the package avoids: walking the
// document with json.Decoder.Token.
func BenchmarkTokenWalk(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		dec := json.NewDecoder(bytes.NewReader(doc))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
