// SPDX-License-Identifier: Apache-2.0
// Interop client on Apache Thrift's Java library (libthrift-java).
//   java InteropClient PORT buffered|framed binary|compact [SERVICE]
// With SERVICE, every call goes through TMultiplexedProtocol under that name.
// Java's TSocket buffers by itself and flushes per message: it is the
// "buffered" transport of the Java library (as in Apache's cross tests).
// Calls every method of interop.thrift, prints one line per failed check,
// exits 1 on any failure, else prints "ok".
import interop.*;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.*;
import org.apache.thrift.TApplicationException;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.*;
import org.apache.thrift.transport.*;
import org.apache.thrift.transport.layered.TFramedTransport;

public class InteropClient {
    static int failures = 0;

    static void check(boolean ok, String what) {
        if (!ok) {
            failures++;
            System.out.println("FAIL " + what);
        }
    }

    static void eq(Object got, Object want, String what) {
        check(Objects.equals(got, want), what + ": got " + got + ", want " + want);
    }

    interface Call {
        void run() throws Exception;
    }

    static Exception raises(Call c, Class<?> exc, String what) {
        try {
            c.run();
        } catch (Exception e) {
            if (exc.isInstance(e)) {
                return e;
            }
            check(false, what + ": raised " + e + ", want " + exc.getSimpleName());
            return null;
        }
        check(false, what + ": returned, want " + exc.getSimpleName());
        return null;
    }

    static final String UTF8 = "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e \uD83E\uDD84";

    static Point pt(int x, int y) {
        return new Point().setX(x).setY(y);
    }

    static Everything everythingFull() {
        Map<String, Point> named = new HashMap<>();
        named.put("origin", pt(0, 0));
        named.put("\u00fc", pt(5, 6));
        Map<Long, String> byId = new HashMap<>();
        byId.put(-9L, "neg");
        byId.put(1L << 40, "big");
        Map<Color, List<String>> byColor = new HashMap<>();
        byColor.put(Color.RED, Arrays.asList("r"));
        byColor.put(Color.BLUE, new ArrayList<>());
        return new Everything()
            .setFlag(true).setTiny((byte) -5).setSmall((short) -300).setMedium(70000)
            .setLarge(-(1L << 40)).setReal(-0.25).setText("\u00fc\u2713")
            .setData(new byte[] {0, 1, (byte) 0xff, 0}).setColor(Color.NEGATIVE)
            .setPoint(pt(3, 4)).setShape(Shape.name("circle"))
            .setPoints(Arrays.asList(pt(1, 2), pt(-3, -4))).setNamed(named)
            .setIds(new HashSet<>(Arrays.asList(-1L, 0L, 1L << 62)))
            .setBits(Arrays.asList(true, false, true)).setBy_id(byId)
            .setReals(Arrays.asList(1.5, -2.25, 1e300)).setBy_color(byColor)
            .setOpt_text("set").setOpt_number(0).setOpt_list(new ArrayList<>())
            .setFar("far").setLast(Long.MAX_VALUE);
    }

    static Extremes myExtremes() {
        return new Extremes()
            .setI8_min(Byte.MIN_VALUE).setI8_max(Byte.MAX_VALUE)
            .setI16_min(Short.MIN_VALUE).setI16_max(Short.MAX_VALUE)
            .setI32_min(Integer.MIN_VALUE).setI32_max(Integer.MAX_VALUE)
            .setI64_min(Long.MIN_VALUE).setI64_max(Long.MAX_VALUE)
            .setD_max(Double.MAX_VALUE).setD_min_normal(Double.MIN_NORMAL)
            .setD_min_subnormal(Double.MIN_VALUE).setD_lowest(-Double.MAX_VALUE)
            .setD_inf(Double.POSITIVE_INFINITY).setD_ninf(Double.NEGATIVE_INFINITY)
            .setD_nan(Double.NaN).setD_negzero(-0.0).setD_tenth(0.1);
    }

    static boolean negZero(double d) {
        return Double.doubleToRawLongBits(d) == Double.doubleToRawLongBits(-0.0);
    }

    static void checkExtremes(Extremes e) {
        Extremes w = myExtremes();
        eq(e.i8_min, w.i8_min, "extremes.i8_min");
        eq(e.i8_max, w.i8_max, "extremes.i8_max");
        eq(e.i16_min, w.i16_min, "extremes.i16_min");
        eq(e.i16_max, w.i16_max, "extremes.i16_max");
        eq(e.i32_min, w.i32_min, "extremes.i32_min");
        eq(e.i32_max, w.i32_max, "extremes.i32_max");
        eq(e.i64_min, w.i64_min, "extremes.i64_min");
        eq(e.i64_max, w.i64_max, "extremes.i64_max");
        eq(e.d_max, w.d_max, "extremes.d_max");
        eq(e.d_min_normal, w.d_min_normal, "extremes.d_min_normal");
        eq(e.d_min_subnormal, w.d_min_subnormal, "extremes.d_min_subnormal");
        eq(e.d_lowest, w.d_lowest, "extremes.d_lowest");
        eq(e.d_inf, w.d_inf, "extremes.d_inf");
        eq(e.d_ninf, w.d_ninf, "extremes.d_ninf");
        check(Double.isNaN(e.d_nan), "extremes.d_nan is " + e.d_nan);
        check(negZero(e.d_negzero), "extremes.d_negzero is " + e.d_negzero);
        eq(e.d_tenth, w.d_tenth, "extremes.d_tenth");
    }

    static void run(Interop.Client c) throws Exception {
        c.ping();
        for (boolean v : new boolean[] {true, false}) {
            eq(c.echo_bool(v), v, "echo_bool");
        }
        for (byte v : new byte[] {-128, 0, 127}) {
            eq(c.echo_byte(v), v, "echo_byte");
        }
        for (short v : new short[] {-32768, -1, 32767}) {
            eq(c.echo_i16(v), v, "echo_i16");
        }
        for (int v : new int[] {Integer.MIN_VALUE, 0, Integer.MAX_VALUE}) {
            eq(c.echo_i32(v), v, "echo_i32");
        }
        for (long v : new long[] {Long.MIN_VALUE, -1, 1L << 32, Long.MAX_VALUE}) {
            eq(c.echo_i64(v), v, "echo_i64");
        }
        for (double v : new double[] {0.1, -1.5, Double.MAX_VALUE, Double.MIN_NORMAL,
                                      Double.MIN_VALUE, -Double.MAX_VALUE,
                                      Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            eq(c.echo_double(v), v, "echo_double(" + v + ")");
        }
        check(Double.isNaN(c.echo_double(Double.NaN)), "echo_double(NaN)");
        check(negZero(c.echo_double(-0.0)), "echo_double(-0.0)");
        for (String v : new String[] {"", UTF8}) {
            eq(c.echo_string(v), v, "echo_string");
        }
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (byte) i;
        }
        byte[] big = new byte[1 << 20];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i % 251);
        }
        for (byte[] v : new byte[][] {new byte[0], all, big}) {
            eq(c.echo_binary(ByteBuffer.wrap(v)), ByteBuffer.wrap(v),
               "echo_binary(" + v.length + " bytes)");
        }
        for (Color v : new Color[] {Color.RED, Color.NEGATIVE, Color.BIG}) {
            eq(c.echo_enum(v), v, "echo_enum");
        }
        for (List<Integer> v : Arrays.asList(new ArrayList<Integer>(),
                                             Arrays.asList(1, -2, Integer.MAX_VALUE))) {
            eq(c.echo_list(v), v, "echo_list");
        }
        for (Set<String> v : Arrays.asList(new HashSet<String>(),
                                           new HashSet<>(Arrays.asList("a", "b", "\u00fc")))) {
            eq(c.echo_set(v), v, "echo_set");
        }
        Map<String, Integer> m = new HashMap<>();
        eq(c.echo_map(m), m, "echo_map({})");
        m.put("one", 1);
        m.put("minus", -1);
        m.put("\u00fc", 3);
        eq(c.echo_map(m), m, "echo_map");
        Map<String, List<List<Integer>>> nested = new HashMap<>();
        nested.put("a", Arrays.asList(Arrays.asList(1, 2), new ArrayList<>(), Arrays.asList(3)));
        nested.put("b", new ArrayList<>());
        eq(c.echo_nested(nested), nested, "echo_nested");
        eq(c.echo_point(pt(1, -2)), pt(1, -2), "echo_point");

        Everything full = everythingFull();
        eq(c.echo_everything(full), full, "echo_everything(full)");
        Everything minimal = new Everything().setFlag(false).setTiny((byte) 0);
        Everything got = c.echo_everything(minimal);
        eq(got, minimal, "echo_everything(minimal)");
        check(!got.isSetOpt_text() && !got.isSetOpt_number() && !got.isSetOpt_point()
              && !got.isSetOpt_list(), "echo_everything(minimal): optional fields came back set");
        for (Shape s : new Shape[] {Shape.number(-1), Shape.name(UTF8), Shape.point(pt(7, 8)),
                                    Shape.numbers(Arrays.asList(1, 2, 3)),
                                    Shape.blob(new byte[] {0, 'z', 0})}) {
            eq(c.echo_shape(s), s, "echo_shape");
        }

        Defaults d = c.defaults();
        eq(d.number, 42, "defaults.number");
        eq(d.big, 1234567890123L, "defaults.big");
        eq(d.ratio, -1.5, "defaults.ratio");
        eq(d.text, "h\u00e9llo w\u00f6rld", "defaults.text");
        eq(d.flag, true, "defaults.flag");
        eq(d.color, Color.BLUE, "defaults.color");
        eq(d.numbers, Arrays.asList(1, 2, 3), "defaults.numbers");
        Map<String, Integer> counts = new HashMap<>();
        counts.put("a", 1);
        counts.put("b", 2);
        eq(d.counts, counts, "defaults.counts");
        eq(d.origin, pt(1, -1), "defaults.origin");
        check(!d.isSetUnset(), "defaults.unset is set");
        check(d.isSetOpt_number() && d.opt_number == 5, "defaults.opt_number");
        eq(d.tags, new HashSet<>(Arrays.asList("x", "y")), "defaults.tags");
        checkExtremes(c.extremes());
        eq(c.check_extremes(myExtremes()), "", "check_extremes");
        eq(c.multi((byte) -1, (short) -300, 70000, 1L << 40, 2.5, "x \u00fc", true,
                   ByteBuffer.wrap(new byte[] {0, 1, 2}), Color.BIG),
           "-1|-300|70000|1099511627776|2.5|x \u00fc|true|3|2147483647", "multi");

        eq(c.fail(0), 0, "fail(0)");
        NotFound nf = (NotFound) raises(() -> c.fail(1), NotFound.class, "fail(1)");
        if (nf != null) {
            check(nf.thing.equals("thing") && nf.code == 404, "fail(1): " + nf);
        }
        Invalid inv = (Invalid) raises(() -> c.fail(2), Invalid.class, "fail(2)");
        if (inv != null) {
            check(inv.why.equals("bad") && pt(1, 2).equals(inv.where), "fail(2): " + inv);
        }
        TApplicationException ae =
            (TApplicationException) raises(() -> c.fail(3), TApplicationException.class, "fail(3)");
        if (ae != null) {
            eq(ae.getType(), TApplicationException.INTERNAL_ERROR, "fail(3) type");
        }
        c.ping();
        c.fail_void(0);
        nf = (NotFound) raises(() -> c.fail_void(1), NotFound.class, "fail_void(1)");
        if (nf != null) {
            check(nf.thing.equals("void") && nf.code == 1, "fail_void(1): " + nf);
        }
        ae = (TApplicationException) raises(() -> c.nothing(), TApplicationException.class,
                                            "nothing()");
        if (ae != null) {
            eq(ae.getType(), TApplicationException.MISSING_RESULT, "nothing() type");
        }
        c.remember("java", 5);
        c.remember("java", 37);
        eq(c.remembered("java"), 42L, "remembered after two oneway remember()");
        c.ping();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3 && args.length != 4) {
            System.err.println("usage: InteropClient PORT buffered|framed binary|compact [SERVICE]");
            System.exit(2);
        }
        TSocket sock = new TSocket("127.0.0.1", Integer.parseInt(args[0]), 30000);
        TTransport trans = args[1].equals("framed") ? new TFramedTransport(sock) : sock;
        TProtocol proto = args[2].equals("compact") ? new TCompactProtocol(trans)
                                                    : new TBinaryProtocol(trans);
        if (args.length == 4) {
            proto = new TMultiplexedProtocol(proto, args[3]);
        }
        trans.open();
        try {
            run(new Interop.Client(proto));
        } catch (TException e) {
            System.out.println("FAIL exception: " + e);
            failures++;
        } finally {
            trans.close();
        }
        if (failures > 0) {
            System.exit(1);
        }
        System.out.println("ok");
    }
}
