<?php
// SPDX-License-Identifier: Apache-2.0
// Interop client on Apache Thrift's PHP library (php-thrift).
//   php client.php GEN_PHP_DIR PORT buffered|framed binary|compact [SERVICE]
// With SERVICE, every call goes through TMultiplexedProtocol under that name.
// Calls every method of interop.thrift, prints one line per failed check,
// exits 1 on any failure, else prints "ok". Values are compared strictly
// (same()), since PHP's == on objects would take null for 0.

$gen = $argv[1];
spl_autoload_register(function ($class) use ($gen) {
    $parts = explode('\\', $class);
    if ($parts[0] === 'Thrift') {
        $file = '/usr/lib/php/' . implode('/', array_slice($parts, 1)) . '.php';
    } else {
        $file = $gen . '/' . implode('/', $parts) . '.php';
    }
    if (is_file($file)) {
        require_once $file;
    }
});

use Interop\Color;
use Interop\Defaults;
use Interop\Everything;
use Interop\Extremes;
use Interop\Invalid;
use Interop\InteropClient;
use Interop\NotFound;
use Interop\Point;
use Interop\Shape;
use Thrift\Exception\TApplicationException;
use Thrift\Protocol\TBinaryProtocol;
use Thrift\Protocol\TCompactProtocol;
use Thrift\Protocol\TMultiplexedProtocol;
use Thrift\Transport\TBufferedTransport;
use Thrift\Transport\TFramedTransport;
use Thrift\Transport\TSocket;

$failures = 0;

function check($ok, $what)
{
    global $failures;
    if (!$ok) {
        $failures++;
        echo "FAIL $what\n";
    }
}

function same($a, $b)
{
    if (is_object($a) && is_object($b)) {
        return get_class($a) === get_class($b) && same(get_object_vars($a), get_object_vars($b));
    }
    if (is_array($a) && is_array($b)) {
        if (count($a) !== count($b)) {
            return false;
        }
        foreach ($a as $k => $v) {
            if (!array_key_exists($k, $b) || !same($v, $b[$k])) {
                return false;
            }
        }
        return true;
    }
    if (is_float($a) && is_float($b) && is_nan($a) && is_nan($b)) {
        return true;
    }
    return $a === $b;
}

function eq($got, $want, $what)
{
    check(same($got, $want), "$what: got " . var_export($got, true) . ", want " .
          var_export($want, true));
}

function raises($fn, $exc, $what)
{
    try {
        $fn();
    } catch (Exception $e) {
        if ($e instanceof $exc) {
            return $e;
        }
        check(false, "$what: raised " . get_class($e) . ": " . $e->getMessage() . ", want $exc");
        return null;
    }
    check(false, "$what: returned, want $exc");
    return null;
}

function neg_zero($d)
{
    return $d == 0 && fdiv(1, $d) < 0;
}

const UTF8 = "h\u{e9}llo w\u{f6}rld \u{2713} \u{65e5}\u{672c}\u{8a9e} \u{1f984}";

function pt($x, $y)
{
    return new Point(['x' => $x, 'y' => $y]);
}

function everything_full()
{
    return new Everything([
        'flag' => true, 'tiny' => -5, 'small' => -300, 'medium' => 70000, 'large' => -(1 << 40),
        'real' => -0.25, 'text' => "\u{fc}\u{2713}", 'data' => "\x00\x01\xff\x00",
        'color' => Color::NEGATIVE, 'point' => pt(3, 4), 'shape' => new Shape(['name' => 'circle']),
        'points' => [pt(1, 2), pt(-3, -4)], 'named' => ['origin' => pt(0, 0), "\u{fc}" => pt(5, 6)],
        'ids' => [-1 => true, 0 => true, (1 << 62) => true], 'bits' => [true, false, true],
        'by_id' => [-9 => 'neg', (1 << 40) => 'big'], 'reals' => [1.5, -2.25, 1e300],
        'by_color' => [Color::RED => ['r'], Color::BLUE => []],
        'opt_text' => 'set', 'opt_number' => 0, 'opt_list' => [], 'far' => 'far',
        'last' => PHP_INT_MAX,
    ]);
}

function my_extremes()
{
    return new Extremes([
        'i8_min' => -128, 'i8_max' => 127, 'i16_min' => -32768, 'i16_max' => 32767,
        'i32_min' => -2147483648, 'i32_max' => 2147483647, 'i64_min' => PHP_INT_MIN,
        'i64_max' => PHP_INT_MAX, 'd_max' => PHP_FLOAT_MAX, 'd_min_normal' => PHP_FLOAT_MIN,
        'd_min_subnormal' => 5e-324, 'd_lowest' => -PHP_FLOAT_MAX, 'd_inf' => INF,
        'd_ninf' => -INF, 'd_nan' => NAN, 'd_negzero' => -0.0, 'd_tenth' => 0.1,
    ]);
}

function check_extremes($e)
{
    $want = my_extremes();
    foreach (['i8_min', 'i8_max', 'i16_min', 'i16_max', 'i32_min', 'i32_max', 'i64_min',
              'i64_max', 'd_max', 'd_min_normal', 'd_min_subnormal', 'd_lowest', 'd_inf',
              'd_ninf', 'd_tenth'] as $f) {
        eq($e->$f, $want->$f, "extremes.$f");
    }
    check(is_nan($e->d_nan), "extremes.d_nan is " . $e->d_nan);
    check(neg_zero($e->d_negzero), "extremes.d_negzero is " . $e->d_negzero);
}

function run($c)
{
    $c->ping();
    foreach ([true, false] as $v) {
        eq($c->echo_bool($v), $v, "echo_bool");
    }
    foreach ([-128, 0, 127] as $v) {
        eq($c->echo_byte($v), $v, "echo_byte($v)");
    }
    foreach ([-32768, -1, 32767] as $v) {
        eq($c->echo_i16($v), $v, "echo_i16($v)");
    }
    foreach ([-2147483648, 0, 2147483647] as $v) {
        eq($c->echo_i32($v), $v, "echo_i32($v)");
    }
    foreach ([PHP_INT_MIN, -1, 1 << 32, PHP_INT_MAX] as $v) {
        eq($c->echo_i64($v), $v, "echo_i64($v)");
    }
    foreach ([0.1, -1.5, PHP_FLOAT_MAX, PHP_FLOAT_MIN, 5e-324, -PHP_FLOAT_MAX, INF, -INF] as $v) {
        eq($c->echo_double($v), $v, "echo_double($v)");
    }
    check(is_nan($c->echo_double(NAN)), "echo_double(NAN)");
    check(neg_zero($c->echo_double(-0.0)), "echo_double(-0.0)");
    foreach (['', UTF8] as $v) {
        eq($c->echo_string($v), $v, "echo_string");
    }
    $all = '';
    for ($i = 0; $i < 256; $i++) {
        $all .= chr($i);
    }
    $big = '';
    for ($i = 0; $i < 251; $i++) {
        $big .= chr($i);
    }
    $big = substr(str_repeat($big, intdiv(1 << 20, 251) + 1), 0, 1 << 20);
    foreach (['', $all, $big] as $v) {
        check($c->echo_binary($v) === $v, "echo_binary(" . strlen($v) . " bytes)");
    }
    foreach ([Color::RED, Color::NEGATIVE, Color::BIG] as $v) {
        eq($c->echo_enum($v), $v, "echo_enum($v)");
    }
    foreach ([[], [1, -2, 2147483647]] as $v) {
        eq($c->echo_list($v), $v, "echo_list");
    }
    foreach ([[], ['a' => true, 'b' => true, "\u{fc}" => true]] as $v) {
        eq($c->echo_set($v), $v, "echo_set");
    }
    foreach ([[], ['one' => 1, 'minus' => -1, "\u{fc}" => 3]] as $v) {
        eq($c->echo_map($v), $v, "echo_map");
    }
    $nested = ['a' => [[1, 2], [], [3]], 'b' => []];
    eq($c->echo_nested($nested), $nested, "echo_nested");
    eq($c->echo_point(pt(1, -2)), pt(1, -2), "echo_point");

    $full = everything_full();
    $got = $c->echo_everything($full);
    if ($GLOBALS['compact'] && is_array($got->bits)) {
        // php-thrift's TCompactProtocol::readBool() returns the raw element
        // byte inside containers: 1 for true and 2 for false, as Apache's C++,
        // Java, Python and Go writers (and thriftcorn) send them. Check those
        // bytes, then read them as the library should (docs/interop.md).
        eq($got->bits, [1, 2, 1], "echo_everything(full).bits as raw compact bytes");
        $got->bits = array_map(function ($b) {
            return $b === 1;
        }, $got->bits);
    }
    eq($got, $full, "echo_everything(full)");
    $minimal = new Everything(['flag' => false, 'tiny' => 0]);
    $got = $c->echo_everything($minimal);
    eq($got, $minimal, "echo_everything(minimal)");
    check($got->opt_text === null && $got->opt_number === null && $got->opt_point === null &&
          $got->opt_list === null, "echo_everything(minimal): optional fields came back set");
    foreach ([new Shape(['number' => -1]), new Shape(['name' => UTF8]),
              new Shape(['point' => pt(7, 8)]), new Shape(['numbers' => [1, 2, 3]]),
              new Shape(['blob' => "\x00z\x00"])] as $s) {
        eq($c->echo_shape($s), $s, "echo_shape");
    }

    $d = $c->defaults();
    eq($d->number, 42, "defaults.number");
    eq($d->big, 1234567890123, "defaults.big");
    eq($d->ratio, -1.5, "defaults.ratio");
    eq($d->text, "h\u{e9}llo w\u{f6}rld", "defaults.text");
    eq($d->flag, true, "defaults.flag");
    eq($d->color, Color::BLUE, "defaults.color");
    eq($d->numbers, [1, 2, 3], "defaults.numbers");
    eq($d->counts, ['a' => 1, 'b' => 2], "defaults.counts");
    eq($d->origin, pt(1, -1), "defaults.origin");
    eq($d->unset, null, "defaults.unset");
    eq($d->opt_number, 5, "defaults.opt_number");
    eq($d->tags, ['x' => true, 'y' => true], "defaults.tags");
    check_extremes($c->extremes());
    eq($c->check_extremes(my_extremes()), '', "check_extremes");
    eq($c->multi(-1, -300, 70000, 1 << 40, 2.5, "x \u{fc}", true, "\x00\x01\x02", Color::BIG),
       "-1|-300|70000|1099511627776|2.5|x \u{fc}|true|3|2147483647", "multi");

    eq($c->fail(0), 0, "fail(0)");
    $e = raises(function () use ($c) { $c->fail(1); }, NotFound::class, "fail(1)");
    if ($e) {
        eq([$e->thing, $e->code], ['thing', 404], "fail(1) NotFound");
    }
    $e = raises(function () use ($c) { $c->fail(2); }, Invalid::class, "fail(2)");
    if ($e) {
        eq([$e->why, $e->where], ['bad', pt(1, 2)], "fail(2) Invalid");
    }
    $e = raises(function () use ($c) { $c->fail(3); }, TApplicationException::class, "fail(3)");
    if ($e) {
        eq($e->getCode(), TApplicationException::INTERNAL_ERROR, "fail(3) type");
    }
    $c->ping();
    eq($c->fail_void(0), null, "fail_void(0)");
    $e = raises(function () use ($c) { $c->fail_void(1); }, NotFound::class, "fail_void(1)");
    if ($e) {
        eq([$e->thing, $e->code], ['void', 1], "fail_void(1) NotFound");
    }
    // PHP's generated client reports a missing result with a plain Exception,
    // not TApplicationException MISSING_RESULT.
    $e = raises(function () use ($c) { $c->nothing(); }, Exception::class, "nothing()");
    if ($e) {
        eq($e->getMessage(), "nothing failed: unknown result", "nothing() message");
    }
    $c->remember('php', 5);
    $c->remember('php', 37);
    eq($c->remembered('php'), 42, "remembered after two oneway remember()");
    $c->ping();
}

$sock = new TSocket('127.0.0.1', (int)$argv[2]);
$sock->setRecvTimeout(30000);
$sock->setSendTimeout(30000);
$trans = $argv[3] === 'framed' ? new TFramedTransport($sock) : new TBufferedTransport($sock, 8192, 8192);
$compact = $argv[4] === 'compact';
$proto = $compact ? new TCompactProtocol($trans) : new TBinaryProtocol($trans);
if (isset($argv[5])) {
    $proto = new TMultiplexedProtocol($proto, $argv[5]);
}
$trans->open();
try {
    run(new InteropClient($proto));
} finally {
    $trans->close();
}
if ($failures > 0) {
    exit(1);
}
echo "ok\n";
