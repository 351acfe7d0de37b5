package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    private final AtomicLong nanos = new AtomicLong();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private ProgressBar progress(int total, boolean tty) {
        return new ProgressBar(total, "acknowledged", 0, tty, new PrintStream(out, true, StandardCharsets.UTF_8), nanos::get);
    }

    @Test
    void aTerminalIsRedrawnAtMostFiveTimesASecondWithRateAndEta() {
        ProgressBar p = progress(20_000, true);
        for (int done = 1; done <= 20_000; done++) {
            nanos.addAndGet(100_000); // 10,000 acknowledgements a second: the run takes 2 s
            p.update(done);
        }
        p.done();
        assertThat(p.draws()).isBetween(10, 12);
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text.length()).as("20,000 acknowledgements, a few kB of output").isLessThan(2_000);
        assertThat(text).contains("10000/s", "ETA 1s", "20000/20000 acknowledged", "done");
    }

    @Test
    void aLogGetsOneLinePerTenthWithTheTimeLeft() {
        ProgressBar p = progress(1_000, false);
        for (int done = 1; done <= 1_000; done++) {
            nanos.addAndGet(60_000_000L); // 1,000 at 16.7/s: about a minute
            p.update(done);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text.lines().count()).as("0 %, 10 % … 100 %").isEqualTo(11);
        assertThat(text).contains("100/1000 acknowledged, 17/s, ETA 53s", "1000/1000 acknowledged, 17/s, done");
    }

    @Test
    void workThatEndsWithinTheQuietTimeSaysNothingAndLongerWorkSaysItOnce() {
        ProgressBar quick = new ProgressBar(1_000, "checked", 2_000_000_000L, false, new PrintStream(out, true, StandardCharsets.UTF_8),
                nanos::get);
        for (int done = 1; done <= 1_000; done++) {
            nanos.addAndGet(1_000_000L); // 1 s in all
            quick.update(done);
        }
        quick.done();
        assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
        ProgressBar slow = new ProgressBar(1_000, "checked", 2_000_000_000L, false, new PrintStream(out, true, StandardCharsets.UTF_8),
                nanos::get);
        for (int done = 1; done <= 1_000; done++) {
            nanos.addAndGet(10_000_000L); // 10 s in all: silent for the first 2
            slow.update(done);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text.lines().count()).as("from 20 % on, a line per tenth").isEqualTo(9);
        assertThat(text).startsWith("[######                        ] 200/1000 checked").contains("1000/1000 checked, 100/s, done");
    }
}
