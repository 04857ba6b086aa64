// SPDX-License-Identifier: Apache-2.0
// Interop client on Apache Thrift's Go library (golang-thrift-dev), built
// in GOPATH mode against /usr/share/gocode, offline.
//   interop_client_go PORT buffered|framed|header binary|compact [SERVICE]
// With SERVICE, every call goes through TMultiplexedProtocol under that name.
// Calls every method of interop.thrift, prints one line per failed check,
// exits 1 on any failure, else prints "ok".
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"interop"
)

var failures = 0

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		failures++
		fmt.Printf("FAIL "+format+"\n", args...)
	}
}

func eq(got, want interface{}, what string) {
	check(reflect.DeepEqual(got, want), "%s: got %#v, want %#v", what, got, want)
}

func noerr(err error, what string) {
	check(err == nil, "%s: %v", what, err)
}

func appErr(err error, typ int32, what string) {
	var ae thrift.TApplicationException
	if errors.As(err, &ae) {
		check(ae.TypeId() == typ, "%s: TApplicationException type %d, want %d", what, ae.TypeId(), typ)
	} else {
		check(false, "%s: got %v, want TApplicationException %d", what, err, typ)
	}
}

const utf8 = "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e \U0001f984"

func pt(x, y int32) *interop.Point { return &interop.Point{X: x, Y: y} }

func sortedI64(v []int64) []int64 {
	r := append([]int64(nil), v...)
	sort.Slice(r, func(i, j int) bool { return r[i] < r[j] })
	return r
}

func sortedStr(v []string) []string {
	r := append([]string(nil), v...)
	sort.Strings(r)
	return r
}

func everythingFull() *interop.Everything {
	e := interop.NewEverything()
	e.Flag = true
	e.Tiny = -5
	e.Small = -300
	e.Medium = 70000
	e.Large = -(1 << 40)
	e.Real = -0.25
	e.Text = "\u00fc\u2713"
	e.Data = []byte{0, 1, 0xff, 0}
	e.Color = interop.Color_NEGATIVE
	e.Point = pt(3, 4)
	name := "circle"
	e.Shape = &interop.Shape{Name: &name}
	e.Points = []*interop.Point{pt(1, 2), pt(-3, -4)}
	e.Named = map[string]*interop.Point{"origin": pt(0, 0), "\u00fc": pt(5, 6)}
	e.Ids = []int64{-1, 0, 1 << 62}
	e.Bits = []bool{true, false, true}
	e.ByID = map[int64]string{-9: "neg", 1 << 40: "big"}
	e.Reals = []float64{1.5, -2.25, 1e300}
	e.ByColor = map[interop.Color][]string{interop.Color_RED: {"r"}, interop.Color_BLUE: {}}
	text := "set"
	e.OptText = &text
	zero := int32(0)
	e.OptNumber = &zero
	e.OptList = []string{}
	e.Far = "far"
	e.Last = math.MaxInt64
	return e
}

func myExtremes() *interop.Extremes {
	return &interop.Extremes{
		I8Min: math.MinInt8, I8Max: math.MaxInt8, I16Min: math.MinInt16, I16Max: math.MaxInt16,
		I32Min: math.MinInt32, I32Max: math.MaxInt32, I64Min: math.MinInt64, I64Max: math.MaxInt64,
		DMax: math.MaxFloat64, DMinNormal: 2.2250738585072014e-308,
		DMinSubnormal: math.SmallestNonzeroFloat64, DLowest: -math.MaxFloat64,
		DInf: math.Inf(1), DNinf: math.Inf(-1), DNan: math.NaN(), DNegzero: math.Copysign(0, -1),
		DTenth: 0.1,
	}
}

func checkExtremes(e *interop.Extremes) {
	want := myExtremes()
	eq(e.I8Min, want.I8Min, "extremes.i8_min")
	eq(e.I8Max, want.I8Max, "extremes.i8_max")
	eq(e.I16Min, want.I16Min, "extremes.i16_min")
	eq(e.I16Max, want.I16Max, "extremes.i16_max")
	eq(e.I32Min, want.I32Min, "extremes.i32_min")
	eq(e.I32Max, want.I32Max, "extremes.i32_max")
	eq(e.I64Min, want.I64Min, "extremes.i64_min")
	eq(e.I64Max, want.I64Max, "extremes.i64_max")
	eq(e.DMax, want.DMax, "extremes.d_max")
	eq(e.DMinNormal, want.DMinNormal, "extremes.d_min_normal")
	eq(e.DMinSubnormal, want.DMinSubnormal, "extremes.d_min_subnormal")
	eq(e.DLowest, want.DLowest, "extremes.d_lowest")
	eq(e.DInf, want.DInf, "extremes.d_inf")
	eq(e.DNinf, want.DNinf, "extremes.d_ninf")
	check(math.IsNaN(e.DNan), "extremes.d_nan is %v", e.DNan)
	check(e.DNegzero == 0 && math.Signbit(e.DNegzero), "extremes.d_negzero is %v", e.DNegzero)
	eq(e.DTenth, want.DTenth, "extremes.d_tenth")
}

func run(ctx context.Context, c *interop.InteropClient) {
	noerr(c.Ping(ctx), "ping")
	for _, v := range []bool{true, false} {
		r, err := c.EchoBool(ctx, v)
		noerr(err, "echo_bool")
		eq(r, v, "echo_bool")
	}
	for _, v := range []int8{-128, 0, 127} {
		r, err := c.EchoByte(ctx, v)
		noerr(err, "echo_byte")
		eq(r, v, "echo_byte")
	}
	for _, v := range []int16{-32768, -1, 32767} {
		r, err := c.EchoI16(ctx, v)
		noerr(err, "echo_i16")
		eq(r, v, "echo_i16")
	}
	for _, v := range []int32{math.MinInt32, 0, math.MaxInt32} {
		r, err := c.EchoI32(ctx, v)
		noerr(err, "echo_i32")
		eq(r, v, "echo_i32")
	}
	for _, v := range []int64{math.MinInt64, -1, 1 << 32, math.MaxInt64} {
		r, err := c.EchoI64(ctx, v)
		noerr(err, "echo_i64")
		eq(r, v, "echo_i64")
	}
	for _, v := range []float64{0.1, -1.5, math.MaxFloat64, 2.2250738585072014e-308,
		math.SmallestNonzeroFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1)} {
		r, err := c.EchoDouble(ctx, v)
		noerr(err, "echo_double")
		eq(r, v, "echo_double")
	}
	r, err := c.EchoDouble(ctx, math.NaN())
	noerr(err, "echo_double(nan)")
	check(math.IsNaN(r), "echo_double(nan) = %v", r)
	r, err = c.EchoDouble(ctx, math.Copysign(0, -1))
	noerr(err, "echo_double(-0)")
	check(r == 0 && math.Signbit(r), "echo_double(-0) = %v", r)
	for _, v := range []string{"", utf8} {
		r, err := c.EchoString(ctx, v)
		noerr(err, "echo_string")
		eq(r, v, "echo_string")
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i % 251)
	}
	for _, v := range [][]byte{{}, all, big} {
		r, err := c.EchoBinary(ctx, v)
		noerr(err, "echo_binary")
		check(bytes.Equal(r, v), "echo_binary(%d bytes): got %d bytes", len(v), len(r))
	}
	for _, v := range []interop.Color{interop.Color_RED, interop.Color_NEGATIVE, interop.Color_BIG} {
		r, err := c.EchoEnum(ctx, v)
		noerr(err, "echo_enum")
		eq(r, v, "echo_enum")
	}
	for _, v := range [][]int32{{}, {1, -2, math.MaxInt32}} {
		r, err := c.EchoList(ctx, v)
		noerr(err, "echo_list")
		eq(r, v, "echo_list")
	}
	// a set has no order on the wire: compare sorted
	for _, v := range [][]string{{}, {"a", "b", "\u00fc"}} {
		r, err := c.EchoSet(ctx, v)
		noerr(err, "echo_set")
		eq(sortedStr(r), sortedStr(v), "echo_set")
	}
	for _, v := range []map[string]int32{{}, {"one": 1, "minus": -1, "\u00fc": 3}} {
		r, err := c.EchoMap(ctx, v)
		noerr(err, "echo_map")
		eq(r, v, "echo_map")
	}
	nested := map[string][][]int32{"a": {{1, 2}, {}, {3}}, "b": {}}
	n, err := c.EchoNested(ctx, nested)
	noerr(err, "echo_nested")
	eq(n, nested, "echo_nested")
	p, err := c.EchoPoint(ctx, pt(1, -2))
	noerr(err, "echo_point")
	eq(p, pt(1, -2), "echo_point")

	full := everythingFull()
	got, err := c.EchoEverything(ctx, full)
	noerr(err, "echo_everything(full)")
	if got != nil {
		got.Ids = sortedI64(got.Ids)
		check(got.Equals(full), "echo_everything(full): got %v", got)
	}
	// Go's generated Write dereferences struct fields of default requiredness
	// and refuses a union with no member set: "minimal" needs point and shape.
	minimal := interop.NewEverything()
	zero := int32(0)
	minimal.Point = &interop.Point{}
	minimal.Shape = &interop.Shape{Number: &zero}
	got, err = c.EchoEverything(ctx, minimal)
	noerr(err, "echo_everything(minimal)")
	if got != nil {
		check(got.Equals(minimal), "echo_everything(minimal): got %v", got)
		check(!got.IsSetOptText() && !got.IsSetOptNumber() && !got.IsSetOptPoint() &&
			!got.IsSetOptList(), "echo_everything(minimal): optional fields came back set")
	}
	num, name := int32(-1), utf8
	for _, s := range []*interop.Shape{{Number: &num}, {Name: &name}, {Point: pt(7, 8)},
		{Numbers: []int32{1, 2, 3}}, {Blob: []byte{0, 'z', 0}}} {
		r, err := c.EchoShape(ctx, s)
		noerr(err, "echo_shape")
		check(r != nil && r.Equals(s), "echo_shape(%v): got %v", s, r)
	}

	d, err := c.Defaults(ctx)
	noerr(err, "defaults")
	if d != nil {
		eq(d.Number, int32(42), "defaults.number")
		eq(d.Big, int64(1234567890123), "defaults.big")
		eq(d.Ratio, -1.5, "defaults.ratio")
		eq(d.Text, "h\u00e9llo w\u00f6rld", "defaults.text")
		eq(d.Flag, true, "defaults.flag")
		eq(d.Color, interop.Color_BLUE, "defaults.color")
		eq(d.Numbers, []int32{1, 2, 3}, "defaults.numbers")
		eq(d.Counts, map[string]int32{"a": 1, "b": 2}, "defaults.counts")
		eq(d.Origin, pt(1, -1), "defaults.origin")
		check(!d.IsSetUnset(), "defaults.unset is set")
		eq(d.OptNumber, int32(5), "defaults.opt_number")
		eq(sortedStr(d.Tags), []string{"x", "y"}, "defaults.tags")
	}
	e, err := c.Extremes(ctx)
	noerr(err, "extremes")
	if e != nil {
		checkExtremes(e)
	}
	s, err := c.CheckExtremes(ctx, myExtremes())
	noerr(err, "check_extremes")
	eq(s, "", "check_extremes")
	s, err = c.Multi(ctx, -1, -300, 70000, 1<<40, 2.5, "x \u00fc", true, []byte{0, 1, 2},
		interop.Color_BIG)
	noerr(err, "multi")
	eq(s, "-1|-300|70000|1099511627776|2.5|x \u00fc|true|3|2147483647", "multi")

	i, err := c.Fail(ctx, 0)
	noerr(err, "fail(0)")
	eq(i, int32(0), "fail(0)")
	_, err = c.Fail(ctx, 1)
	var nf *interop.NotFound
	if errors.As(err, &nf) {
		check(nf.Thing == "thing" && nf.Code == 404, "fail(1): %v", nf)
	} else {
		check(false, "fail(1): got %v, want NotFound", err)
	}
	_, err = c.Fail(ctx, 2)
	var inv *interop.Invalid
	if errors.As(err, &inv) {
		check(inv.Why == "bad" && inv.Where.Equals(pt(1, 2)), "fail(2): %v", inv)
	} else {
		check(false, "fail(2): got %v, want Invalid", err)
	}
	_, err = c.Fail(ctx, 3)
	appErr(err, thrift.INTERNAL_ERROR, "fail(3)")
	noerr(c.Ping(ctx), "ping after fail(3)")
	noerr(c.FailVoid(ctx, 0), "fail_void(0)")
	err = c.FailVoid(ctx, 1)
	if errors.As(err, &nf) {
		check(nf.Thing == "void" && nf.Code == 1, "fail_void(1): %v", nf)
	} else {
		check(false, "fail_void(1): got %v, want NotFound", err)
	}
	_, err = c.Nothing(ctx)
	appErr(err, thrift.MISSING_RESULT, "nothing()")
	noerr(c.Remember(ctx, "go", 5), "remember")
	noerr(c.Remember(ctx, "go", 37), "remember")
	sum, err := c.Remembered(ctx, "go")
	noerr(err, "remembered")
	eq(sum, int64(42), "remembered after two oneway remember()")
	noerr(c.Ping(ctx), "ping")
}

func main() {
	if len(os.Args) != 4 && len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: interop_client_go PORT buffered|framed|header binary|compact [SERVICE]")
		os.Exit(2)
	}
	conf := &thrift.TConfiguration{ConnectTimeout: 10 * time.Second, SocketTimeout: 30 * time.Second}
	sock := thrift.NewTSocketConf("127.0.0.1:"+os.Args[1], conf)
	var trans thrift.TTransport
	var proto thrift.TProtocol
	if os.Args[2] == "header" {
		// THeaderProtocol makes its own THeaderTransport over the socket and
		// names the protocol of each frame, the one the configuration says.
		id := thrift.THeaderProtocolBinary
		if os.Args[3] == "compact" {
			id = thrift.THeaderProtocolCompact
		}
		conf.THeaderProtocolID = &id
		hp := thrift.NewTHeaderProtocolConf(sock, conf)
		trans, proto = hp.Transport(), hp
	} else {
		if os.Args[2] == "framed" {
			trans = thrift.NewTFramedTransportConf(sock, conf)
		} else {
			trans = thrift.NewTBufferedTransport(sock, 8192)
		}
		if os.Args[3] == "compact" {
			proto = thrift.NewTCompactProtocolConf(trans, conf)
		} else {
			proto = thrift.NewTBinaryProtocolConf(trans, conf)
		}
	}
	if len(os.Args) == 5 {
		proto = thrift.NewTMultiplexedProtocol(proto, os.Args[4])
	}
	if err := trans.Open(); err != nil {
		fmt.Println("FAIL open:", err)
		os.Exit(1)
	}
	run(context.Background(), interop.NewInteropClient(thrift.NewTStandardClient(proto, proto)))
	trans.Close()
	if failures > 0 {
		os.Exit(1)
	}
	fmt.Println("ok")
}
