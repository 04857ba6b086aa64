# SPDX-License-Identifier: Apache-2.0
# Interop client on Apache Thrift's Perl library (libthrift-perl), which has
# the binary protocol only.
#   perl -I GEN_PERL_DIR client.pl PORT buffered|framed binary [SERVICE]
# With SERVICE, every call goes through Thrift::MultiplexedProtocol under
# that name.
# Calls every method of interop.thrift, prints one line per failed check,
# exits 1 on any failure, else prints "ok". Strings are UTF-8 bytes.
# Needs Bit::Vector and Class::Accessor, which libthrift-perl does not
# depend on (scripts/packages-interop.txt installs them).
use strict;
use warnings;

use Scalar::Util qw(blessed looks_like_number reftype);
use Thrift;
use Thrift::BinaryProtocol;
use Thrift::BufferedTransport;
use Thrift::FramedTransport;
use Thrift::MultiplexedProtocol;
use Thrift::Socket;

use Interop::Interop;
use Interop::Types;

my $failures = 0;

sub check {
    my ($ok, $what) = @_;
    return if $ok;
    $failures++;
    print "FAIL $what\n";
}

sub same {
    my ($a, $b) = @_;
    return !defined $b if !defined $a;
    return 0 if !defined $b;
    if (ref $a || ref $b) {
        return 0 if (ref $a) ne (ref $b);
        if (reftype($a) eq 'ARRAY') {
            return 0 if @$a != @$b;
            for my $i (0 .. $#$a) {
                return 0 if !same($a->[$i], $b->[$i]);
            }
            return 1;
        }
        my %keys = map { $_ => 1 } (keys %$a, keys %$b);
        for my $k (keys %keys) {
            return 0 if !same($a->{$k}, $b->{$k});
        }
        return 1;
    }
    # a false bool reads back as Perl's '' (not 0)
    return $b == 0 if $a eq '' && looks_like_number($b);
    return $a == 0 if $b eq '' && looks_like_number($a);
    if (looks_like_number($a) && looks_like_number($b)) {
        return 1 if $a != $a && $b != $b;    # NaN
        return $a == $b;
    }
    return $a eq $b;
}

sub show {
    my ($v) = @_;
    return 'undef' if !defined $v;
    return "$v" if !ref $v;
    if (reftype($v) eq 'ARRAY') {
        return '[' . join(', ', map { show($_) } @$v) . ']';
    }
    return (blessed($v) // '') . '{' . join(', ', map { "$_: " . show($v->{$_}) } sort keys %$v) . '}';
}

sub eq_ {
    my ($got, $want, $what) = @_;
    check(same($got, $want), "$what: got " . show($got) . ', want ' . show($want));
}

sub raises {
    my ($fn, $class, $what) = @_;
    my $ok = eval { $fn->(); 1 };
    if ($ok) {
        check(0, "$what: returned, want $class");
        return undef;
    }
    my $e = $@;
    if (blessed($e) && $e->isa($class)) {
        return $e;
    }
    check(0, "$what: raised " . show($e) . ", want $class");
    return undef;
}

my $INF = 9**9**9;
my $NAN = $INF - $INF;
my $NEGZERO = unpack('d>', "\x80" . ("\0" x 7));
my $I64_MIN = -9223372036854775807 - 1;
my $I64_MAX = 9223372036854775807;
my $DMAX = 1.7976931348623157e308;
my $DMIN = 2.2250738585072014e-308;
my $UTF8 = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\xa6\x84";
my $UE = "\xc3\xbc";

sub neg_zero { my ($d) = @_; return pack('d>', $d) eq "\x80" . ("\0" x 7); }

sub pt { return Interop::Point->new({ x => $_[0], y => $_[1] }); }

sub everything_full {
    return Interop::Everything->new({
        flag => 1, tiny => -5, small => -300, medium => 70000, large => -(1 << 40),
        real => -0.25, text => "$UE\xe2\x9c\x93", data => "\x00\x01\xff\x00",
        color => Interop::Color::NEGATIVE, point => pt(3, 4),
        shape => Interop::Shape->new({ name => 'circle' }),
        points => [pt(1, 2), pt(-3, -4)], named => { origin => pt(0, 0), $UE => pt(5, 6) },
        ids => [-1, 0, 1 << 62], bits => [1, 0, 1],
        by_id => { -9 => 'neg', (1 << 40) => 'big' }, reals => [1.5, -2.25, 1e300],
        by_color => { Interop::Color::RED => ['r'], Interop::Color::BLUE => [] },
        opt_text => 'set', opt_number => 0, opt_list => [], far => 'far', last => $I64_MAX,
    });
}

sub my_extremes {
    return Interop::Extremes->new({
        i8_min => -128, i8_max => 127, i16_min => -32768, i16_max => 32767,
        i32_min => -2147483648, i32_max => 2147483647, i64_min => $I64_MIN, i64_max => $I64_MAX,
        d_max => $DMAX, d_min_normal => $DMIN, d_min_subnormal => 5e-324, d_lowest => -$DMAX,
        d_inf => $INF, d_ninf => -$INF, d_nan => $NAN, d_negzero => $NEGZERO, d_tenth => 0.1,
    });
}

sub check_extremes {
    my ($e) = @_;
    my $want = my_extremes();
    for my $f (qw(i8_min i8_max i16_min i16_max i32_min i32_max i64_min i64_max d_max
                  d_min_normal d_min_subnormal d_lowest d_inf d_ninf d_tenth)) {
        eq_($e->{$f}, $want->{$f}, "extremes.$f");
    }
    check($e->{d_nan} != $e->{d_nan}, "extremes.d_nan is $e->{d_nan}");
    check(neg_zero($e->{d_negzero}), "extremes.d_negzero is $e->{d_negzero}");
}

sub run {
    my ($c) = @_;
    $c->ping();
    eq_($c->echo_bool($_), $_, "echo_bool($_)") for (1, 0);
    eq_($c->echo_byte($_), $_, "echo_byte($_)") for (-128, 0, 127);
    eq_($c->echo_i16($_), $_, "echo_i16($_)") for (-32768, -1, 32767);
    eq_($c->echo_i32($_), $_, "echo_i32($_)") for (-2147483648, 0, 2147483647);
    eq_($c->echo_i64($_), $_, "echo_i64($_)") for ($I64_MIN, -1, 1 << 32, $I64_MAX);
    eq_($c->echo_double($_), $_, "echo_double($_)")
        for (0.1, -1.5, $DMAX, $DMIN, 5e-324, -$DMAX, $INF, -$INF);
    my $nan = $c->echo_double($NAN);
    check($nan != $nan, "echo_double(NaN) is $nan");
    check(neg_zero($c->echo_double($NEGZERO)), 'echo_double(-0.0)');
    eq_($c->echo_string($_), $_, 'echo_string') for ('', $UTF8);
    my $all = join('', map { chr } 0 .. 255);
    my $big = join('', map { chr($_ % 251) } 0 .. (1 << 20) - 1);
    for my $v ('', $all, $big) {
        check($c->echo_binary($v) eq $v, 'echo_binary(' . length($v) . ' bytes)');
    }
    eq_($c->echo_enum($_), $_, "echo_enum($_)")
        for (Interop::Color::RED, Interop::Color::NEGATIVE, Interop::Color::BIG);
    eq_($c->echo_list($_), $_, 'echo_list') for ([], [1, -2, 2147483647]);
    # The generated Perl code writes a set from an array ref and reads it
    # into a hash ref { element => 1 }.
    eq_($c->echo_set([]), {}, 'echo_set([])');
    eq_($c->echo_set(['a', 'b', $UE]), { a => 1, b => 1, $UE => 1 }, 'echo_set');
    eq_($c->echo_map($_), $_, 'echo_map') for ({}, { one => 1, minus => -1, $UE => 3 });
    my $nested = { a => [[1, 2], [], [3]], b => [] };
    eq_($c->echo_nested($nested), $nested, 'echo_nested');
    eq_($c->echo_point(pt(1, -2)), pt(1, -2), 'echo_point');

    my $full = everything_full();
    my $got_full = $c->echo_everything($full);
    $full->{ids} = { map { $_ => 1 } @{ $full->{ids} } };
    eq_($got_full, $full, 'echo_everything(full)');
    my $minimal = Interop::Everything->new({ flag => 0, tiny => 0 });
    my $got = $c->echo_everything($minimal);
    check(!defined $got->{opt_text} && !defined $got->{opt_number} && !defined $got->{opt_point}
          && !defined $got->{opt_list}, 'echo_everything(minimal): optional fields came back set');
    check($got->{flag} == 0 && $got->{tiny} == 0, 'echo_everything(minimal): flag, tiny');
    for my $s (Interop::Shape->new({ number => -1 }), Interop::Shape->new({ name => $UTF8 }),
               Interop::Shape->new({ point => pt(7, 8) }),
               Interop::Shape->new({ numbers => [1, 2, 3] }),
               Interop::Shape->new({ blob => "\x00z\x00" })) {
        eq_($c->echo_shape($s), $s, 'echo_shape');
    }

    my $d = $c->defaults();
    eq_($d->{number}, 42, 'defaults.number');
    eq_($d->{big}, 1234567890123, 'defaults.big');
    eq_($d->{ratio}, -1.5, 'defaults.ratio');
    eq_($d->{text}, "h\xc3\xa9llo w\xc3\xb6rld", 'defaults.text');
    eq_($d->{flag}, 1, 'defaults.flag');
    eq_($d->{color}, Interop::Color::BLUE, 'defaults.color');
    eq_($d->{numbers}, [1, 2, 3], 'defaults.numbers');
    eq_($d->{counts}, { a => 1, b => 2 }, 'defaults.counts');
    eq_($d->{origin}, pt(1, -1), 'defaults.origin');
    eq_($d->{unset}, undef, 'defaults.unset');
    eq_($d->{opt_number}, 5, 'defaults.opt_number');
    eq_($d->{tags}, { x => 1, y => 1 }, 'defaults.tags');
    check_extremes($c->extremes());
    eq_($c->check_extremes(my_extremes()), '', 'check_extremes');
    eq_($c->multi(-1, -300, 70000, 1 << 40, 2.5, "x $UE", 1, "\x00\x01\x02", Interop::Color::BIG),
        "-1|-300|70000|1099511627776|2.5|x $UE|true|3|2147483647", 'multi');

    eq_($c->fail(0), 0, 'fail(0)');
    my $e = raises(sub { $c->fail(1) }, 'Interop::NotFound', 'fail(1)');
    eq_([$e->{thing}, $e->{code}], ['thing', 404], 'fail(1) NotFound') if $e;
    $e = raises(sub { $c->fail(2) }, 'Interop::Invalid', 'fail(2)');
    eq_([$e->{why}, $e->{where}], ['bad', pt(1, 2)], 'fail(2) Invalid') if $e;
    $e = raises(sub { $c->fail(3) }, 'Thrift::TApplicationException', 'fail(3)');
    eq_($e->{code}, Thrift::TApplicationException::INTERNAL_ERROR, 'fail(3) type') if $e;
    $c->ping();
    $c->fail_void(0);
    $e = raises(sub { $c->fail_void(1) }, 'Interop::NotFound', 'fail_void(1)');
    eq_([$e->{thing}, $e->{code}], ['void', 1], 'fail_void(1) NotFound') if $e;
    # Perl's generated client dies with a string, not MISSING_RESULT.
    my $ok = eval { $c->nothing(); 1 };
    check(!$ok && !ref($@) && $@ =~ /^nothing failed: unknown result/, "nothing(): $@");
    $c->remember('perl', 5);
    $c->remember('perl', 37);
    eq_($c->remembered('perl'), 42, 'remembered after two oneway remember()');
    $c->ping();
}

my ($port, $transport, $protocol, $service) = @ARGV;
die "the Perl library has no compact protocol\n" if $protocol ne 'binary';
my $sock = Thrift::Socket->new('127.0.0.1', $port);
$sock->setRecvTimeout(30000);
$sock->setSendTimeout(30000);
my $trans = $transport eq 'framed' ? Thrift::FramedTransport->new($sock)
                                   : Thrift::BufferedTransport->new($sock);
my $proto = Thrift::BinaryProtocol->new($trans);
$proto = Thrift::MultiplexedProtocol->new($proto, $service) if defined $service;
$trans->open();
my $ok = eval { run(Interop::InteropClient->new($proto)); 1 };
if (!$ok) {
    print 'FAIL exception: ' . show($@) . "\n";
    $failures++;
}
$trans->close();
exit 1 if $failures;
print "ok\n";
