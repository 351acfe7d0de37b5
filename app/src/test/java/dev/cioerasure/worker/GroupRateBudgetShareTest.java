package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** How the group's budget is divided: by backlog, never above the limit, no instance starved. */
class GroupRateBudgetShareTest {

    @Test
    void aWantThatFitsIsGrantedWholeWithAnEqualPartOfWhatNobodyWants() {
        assertThat(GroupRateBudget.share(1000, 300, 900, 2)).isEqualTo(350);
        assertThat(GroupRateBudget.share(1000, 600, 900, 2)).isEqualTo(650);
        assertThat(GroupRateBudget.share(1000, 0, 900, 3)).isEqualTo(33);
        assertThat(GroupRateBudget.share(1000, 40, 40, 1)).as("alone: the whole limit").isEqualTo(1000);
    }

    @Test
    void skewedBacklogsShareInProportionSoTheGroupDrainsAsOneQueue() {
        // the hot partition's instance has three times the others' backlog
        int hot = GroupRateBudget.want(1000, 300, 40, 9_000);
        int cold = GroupRateBudget.want(1000, 300, 40, 3_000);
        long group = (long) hot + cold + cold;
        int hotShare = GroupRateBudget.share(1000, hot, group, 3);
        int coldShare = GroupRateBudget.share(1000, cold, group, 3);
        assertThat(hotShare + 2 * coldShare).isLessThanOrEqualTo(1000).isGreaterThan(990);
        assertThat((double) hotShare / coldShare).isBetween(2.8, 3.0);
    }

    @Test
    void sharesNeverAddUpToMoreThanTheLimit() {
        int[][] cases = {{1, 1, 1}, {5, 7, 1_000_000}, {999, 1, 1}, {0, 0, 3}, {1000, 1000, 1000}};
        for (int[] wants : cases) {
            long group = 0;
            for (int w : wants) {
                group += w;
            }
            int sum = 0;
            for (int w : wants) {
                sum += GroupRateBudget.share(1000, w, group, wants.length);
            }
            // a share is at least one slot, so tiny wants can round up; the lease itself then caps
            // each grant at the limit minus what the others hold
            assertThat(sum).as("wants %s", Arrays.toString(wants)).isLessThanOrEqualTo(1000 + wants.length);
        }
    }

    @Test
    void anInstanceWithLittleBacklogStillGetsSlotsNextToAHugeOne() {
        int small = GroupRateBudget.want(1000, 4, 0, 3);
        int huge = GroupRateBudget.want(1000, 800, 500, 1_000_000);
        assertThat(GroupRateBudget.share(1000, small, (long) small + huge, 2)).isPositive();
    }

    @Test
    void wantCountsTwoCallsPerRecordOnTopOfWhatIsInUse() {
        assertThat(GroupRateBudget.want(1000, 0, 0, 0)).isEqualTo(2);
        assertThat(GroupRateBudget.want(1000, 100, 0, 0)).isEqualTo(125);
        assertThat(GroupRateBudget.want(1000, 100, 10, 50)).isEqualTo(225);
        assertThat(GroupRateBudget.want(1000, 0, 0, Long.MAX_VALUE / 4)).isEqualTo(Integer.MAX_VALUE / 2);
    }

    @Test
    void withoutAKnownBacklogWaitingCallsAskForTheWholeLimit() {
        assertThat(GroupRateBudget.want(1000, 100, 5, -1)).isEqualTo(1000);
        assertThat(GroupRateBudget.want(1000, 100, 0, -1)).isEqualTo(125);
        assertThat(GroupRateBudget.want(1000, 990, 0, -1)).isEqualTo(1000);
    }
}
