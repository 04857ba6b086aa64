# SPDX-License-Identifier: Apache-2.0
# Interop client on Apache Thrift's Ruby library (ruby-thrift).
#   ruby client.rb GEN_RB_DIR PORT buffered|framed binary|compact [SERVICE]
# With SERVICE, every call goes through MultiplexedProtocol under that name.
# Calls every method of interop.thrift, prints one line per failed check,
# exits 1 on any failure, else prints "ok".
$LOAD_PATH.unshift(ARGV[0])
require 'set'
require 'thrift'
require 'interop'

$failures = 0

def check(ok, what)
  return if ok
  $failures += 1
  puts "FAIL #{what}"
end

def eq(got, want, what)
  check(got == want, "#{what}: got #{got.inspect}, want #{want.inspect}")
end

def raises(what, exc)
  yield
  check(false, "#{what}: returned, want #{exc}")
  nil
rescue exc => e
  e
rescue StandardError => e
  check(false, "#{what}: raised #{e.inspect}, want #{exc}")
  nil
end

def neg_zero?(d)
  d.zero? && (1.0 / d).negative?
end

include Interop

UTF8 = "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e \u{1f984}".freeze
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1

def pt(x, y)
  Point.new(x: x, y: y)
end

def everything_full
  Everything.new(
    flag: true, tiny: -5, small: -300, medium: 70_000, large: -(1 << 40), real: -0.25,
    text: "\u00fc\u2713", data: "\x00\x01\xff\x00".b, color: Color::NEGATIVE,
    point: pt(3, 4), shape: Shape.new(:name, 'circle'), points: [pt(1, 2), pt(-3, -4)],
    named: { 'origin' => pt(0, 0), "\u00fc" => pt(5, 6) }, ids: Set.new([-1, 0, 1 << 62]),
    bits: [true, false, true], by_id: { -9 => 'neg', (1 << 40) => 'big' },
    reals: [1.5, -2.25, 1e300], by_color: { Color::RED => ['r'], Color::BLUE => [] },
    opt_text: 'set', opt_number: 0, opt_list: [], far: 'far', last: I64_MAX
  )
end

def my_extremes
  Extremes.new(
    i8_min: -128, i8_max: 127, i16_min: -32_768, i16_max: 32_767,
    i32_min: -2_147_483_648, i32_max: 2_147_483_647, i64_min: I64_MIN, i64_max: I64_MAX,
    d_max: Float::MAX, d_min_normal: Float::MIN, d_min_subnormal: 5e-324,
    d_lowest: -Float::MAX, d_inf: Float::INFINITY, d_ninf: -Float::INFINITY,
    d_nan: Float::NAN, d_negzero: -0.0, d_tenth: 0.1
  )
end

def check_extremes(e)
  want = my_extremes
  %i[i8_min i8_max i16_min i16_max i32_min i32_max i64_min i64_max d_max d_min_normal
     d_min_subnormal d_lowest d_inf d_ninf d_tenth].each do |f|
    eq(e.send(f), want.send(f), "extremes.#{f}")
  end
  check(e.d_nan.nan?, "extremes.d_nan is #{e.d_nan}")
  check(neg_zero?(e.d_negzero), "extremes.d_negzero is #{e.d_negzero}")
end

def run(c)
  c.ping
  [true, false].each { |v| eq(c.echo_bool(v), v, "echo_bool(#{v})") }
  [-128, 0, 127].each { |v| eq(c.echo_byte(v), v, "echo_byte(#{v})") }
  [-32_768, -1, 32_767].each { |v| eq(c.echo_i16(v), v, "echo_i16(#{v})") }
  [-2_147_483_648, 0, 2_147_483_647].each { |v| eq(c.echo_i32(v), v, "echo_i32(#{v})") }
  [I64_MIN, -1, 1 << 32, I64_MAX].each { |v| eq(c.echo_i64(v), v, "echo_i64(#{v})") }
  [0.1, -1.5, Float::MAX, Float::MIN, 5e-324, -Float::MAX, Float::INFINITY,
   -Float::INFINITY].each { |v| eq(c.echo_double(v), v, "echo_double(#{v})") }
  check(c.echo_double(Float::NAN).nan?, 'echo_double(NaN)')
  check(neg_zero?(c.echo_double(-0.0)), 'echo_double(-0.0)')
  ['', UTF8].each { |v| eq(c.echo_string(v), v, "echo_string(#{v})") }
  all = (0..255).to_a.pack('C*')
  big = Array.new(1 << 20) { |i| i % 251 }.pack('C*')
  [''.b, all, big].each { |v| eq(c.echo_binary(v), v, "echo_binary(#{v.bytesize} bytes)") }
  [Color::RED, Color::NEGATIVE, Color::BIG].each { |v| eq(c.echo_enum(v), v, "echo_enum(#{v})") }
  [[], [1, -2, 2_147_483_647]].each { |v| eq(c.echo_list(v), v, 'echo_list') }
  [Set.new, Set.new(['a', 'b', "\u00fc"])].each { |v| eq(c.echo_set(v), v, 'echo_set') }
  [{}, { 'one' => 1, 'minus' => -1, "\u00fc" => 3 }].each { |v| eq(c.echo_map(v), v, 'echo_map') }
  nested = { 'a' => [[1, 2], [], [3]], 'b' => [] }
  eq(c.echo_nested(nested), nested, 'echo_nested')
  eq(c.echo_point(pt(1, -2)), pt(1, -2), 'echo_point')

  full = everything_full
  eq(c.echo_everything(full), full, 'echo_everything(full)')
  minimal = Everything.new(flag: false, tiny: 0)
  got = c.echo_everything(minimal)
  eq(got, minimal, 'echo_everything(minimal)')
  check(got.opt_text.nil? && got.opt_number.nil? && got.opt_point.nil? && got.opt_list.nil?,
        'echo_everything(minimal): optional fields came back set')
  [Shape.new(:number, -1), Shape.new(:name, UTF8), Shape.new(:point, pt(7, 8)),
   Shape.new(:numbers, [1, 2, 3]), Shape.new(:blob, "\x00z\x00".b)].each do |s|
    eq(c.echo_shape(s), s, "echo_shape(#{s.inspect})")
  end

  d = c.defaults
  eq(d.number, 42, 'defaults.number')
  eq(d.big, 1_234_567_890_123, 'defaults.big')
  eq(d.ratio, -1.5, 'defaults.ratio')
  eq(d.text, "h\u00e9llo w\u00f6rld", 'defaults.text')
  eq(d.flag, true, 'defaults.flag')
  eq(d.color, Color::BLUE, 'defaults.color')
  eq(d.numbers, [1, 2, 3], 'defaults.numbers')
  eq(d.counts, { 'a' => 1, 'b' => 2 }, 'defaults.counts')
  eq(d.origin, pt(1, -1), 'defaults.origin')
  eq(d.unset, nil, 'defaults.unset')
  eq(d.opt_number, 5, 'defaults.opt_number')
  eq(d.tags, Set.new(%w[x y]), 'defaults.tags')
  check_extremes(c.extremes)
  eq(c.check_extremes(my_extremes), '', 'check_extremes')
  eq(c.multi(-1, -300, 70_000, 1 << 40, 2.5, "x \u00fc", true, "\x00\x01\x02".b, Color::BIG),
     "-1|-300|70000|1099511627776|2.5|x \u00fc|true|3|2147483647", 'multi')

  eq(c.fail(0), 0, 'fail(0)')
  e = raises('fail(1)', NotFound) { c.fail(1) }
  eq([e.thing, e.code], ['thing', 404], 'fail(1) NotFound') if e
  e = raises('fail(2)', Invalid) { c.fail(2) }
  eq([e.why, e.where], ['bad', pt(1, 2)], 'fail(2) Invalid') if e
  e = raises('fail(3)', Thrift::ApplicationException) { c.fail(3) }
  eq(e.type, Thrift::ApplicationException::INTERNAL_ERROR, 'fail(3) type') if e
  c.ping
  eq(c.fail_void(0), nil, 'fail_void(0)')
  e = raises('fail_void(1)', NotFound) { c.fail_void(1) }
  eq([e.thing, e.code], ['void', 1], 'fail_void(1) NotFound') if e
  e = raises('nothing()', Thrift::ApplicationException) { c.nothing }
  eq(e.type, Thrift::ApplicationException::MISSING_RESULT, 'nothing() type') if e
  c.remember('rb', 5)
  c.remember('rb', 37)
  eq(c.remembered('rb'), 42, 'remembered after two oneway remember()')
  c.ping
end

port = Integer(ARGV[1])
sock = Thrift::Socket.new('127.0.0.1', port, 30)
trans = ARGV[2] == 'framed' ? Thrift::FramedTransport.new(sock) : Thrift::BufferedTransport.new(sock)
proto = ARGV[3] == 'compact' ? Thrift::CompactProtocol.new(trans) : Thrift::BinaryProtocol.new(trans)
proto = Thrift::MultiplexedProtocol.new(proto, ARGV[4]) if ARGV[4]
trans.open
begin
  run(Interop::Interop::Client.new(proto))
ensure
  trans.close
end
exit 1 if $failures.positive?
puts 'ok'
