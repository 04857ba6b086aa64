// SPDX-License-Identifier: Apache-2.0
// The interop service: one method per shape of value, served by
// handler.lua (and the C plugin) and called by the client that
// thrift-compiler generates for each Apache Thrift library Debian ships.
// See docs/interop.md.

namespace py interop
namespace cpp interop
namespace rb Interop
namespace go interop
namespace java interop
namespace perl Interop
namespace php Interop
namespace c_glib Interop

enum Color {
  RED = 1,
  GREEN = 2,
  BLUE = 3,
  NEGATIVE = -7,
  BIG = 0x7fffffff,
}

struct Point {
  1: i32 x
  2: i32 y
}

union Shape {
  1: i32 number
  2: string name
  3: Point point
  4: list<i32> numbers
  5: binary blob
}

// Every kind of field: required, default and optional requiredness, every
// base type, nested structs, a union, containers of each kind, and ids that
// need the long form of the compact field header (delta > 15, id 32767).
struct Everything {
  1: required bool flag
  2: required i8 tiny
  3: i16 small
  4: i32 medium
  5: i64 large
  6: double real
  7: string text
  8: binary data
  9: Color color
  10: Point point
  11: Shape shape
  12: list<Point> points
  13: map<string, Point> named
  14: set<i64> ids
  15: list<bool> bits
  16: map<i64, string> by_id
  17: list<double> reals
  18: map<Color, list<string>> by_color
  19: optional string opt_text
  20: optional i32 opt_number
  21: optional Point opt_point
  22: optional list<string> opt_list
  40: string far
  32767: i64 last
}

// Built by the server from these defaults alone (Defaults{} in Lua).
struct Defaults {
  1: i32 number = 42
  2: i64 big = 1234567890123
  3: double ratio = -1.5
  4: string text = "héllo wörld"
  5: bool flag = true
  6: Color color = Color.BLUE
  7: list<i32> numbers = [1, 2, 3]
  8: map<string, i32> counts = {"a": 1, "b": 2}
  9: Point origin = {"x": 1, "y": -1}
  10: optional string unset
  11: optional i32 opt_number = 5
  12: set<string> tags = ["x", "y"]
}

// The extreme values of every numeric type. The server builds one with
// extremes() and checks one with check_extremes().
struct Extremes {
  1: i8 i8_min
  2: i8 i8_max
  3: i16 i16_min
  4: i16 i16_max
  5: i32 i32_min
  6: i32 i32_max
  7: i64 i64_min
  8: i64 i64_max
  9: double d_max
  10: double d_min_normal
  11: double d_min_subnormal
  12: double d_lowest
  13: double d_inf
  14: double d_ninf
  15: double d_nan
  16: double d_negzero
  17: double d_tenth
}

exception NotFound {
  1: string thing
  2: i32 code
}

exception Invalid {
  1: string why
  2: optional Point where
}

service Base {
  void ping()
}

service Interop extends Base {
  bool echo_bool(1: bool v)
  i8 echo_byte(1: i8 v)
  i16 echo_i16(1: i16 v)
  i32 echo_i32(1: i32 v)
  i64 echo_i64(1: i64 v)
  double echo_double(1: double v)
  string echo_string(1: string v)
  binary echo_binary(1: binary v)
  Color echo_enum(1: Color v)
  list<i32> echo_list(1: list<i32> v)
  set<string> echo_set(1: set<string> v)
  map<string, i32> echo_map(1: map<string, i32> v)
  map<string, list<list<i32>>> echo_nested(1: map<string, list<list<i32>>> v)
  Point echo_point(1: Point v)
  Everything echo_everything(1: Everything v)
  Shape echo_shape(1: Shape v)

  Defaults defaults()
  Extremes extremes()
  // "" when every field is the server's extreme, else the fields that differ
  string check_extremes(1: Extremes e)
  // the arguments as the server saw them: "a8|a16|a32|a64|dbl|str|yes|len(blob)|col"
  string multi(1: i8 a8, 2: i16 a16, 3: i32 a32, 4: i64 a64, 5: double dbl, 6: string str,
               7: bool yes, 20: binary blob, 32767: Color col)

  // 0: returns 0; 1: NotFound; 2: Invalid; 3: an undeclared error
  // (TApplicationException INTERNAL_ERROR)
  i32 fail(1: i32 which) throws (1: NotFound not_found, 2: Invalid invalid)
  void fail_void(1: i32 which) throws (1: NotFound not_found)
  // the handler returns nothing: the client reports MISSING_RESULT
  Point nothing()

  oneway void remember(1: string key, 2: i64 value)
  // the sum of the values remember() got for key on this server
  i64 remembered(1: string key)
}
