package dev.cioerasure.customerio;

import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a workspace from calling the Track API as another one. Two workspaces that call one site
 * id at one Track URL stop the worker at its start (exit 78). But a key file may be rewritten
 * while the worker runs, as {@code SITE_ID:API_KEY} (a rotation to a new credential set), and name
 * another workspace's site id: a copy of the wrong secret. That workspace's erasures would then be
 * made in the other workspace and recorded in its own, which kept the person.
 *
 * <p>So a workspace whose site id in use is no longer the one it started with is compared with
 * the others at its Track URL; while it calls one of theirs, its calls are not sent: they come
 * back refused ({@link TrackResult.Kind#UNAUTHORIZED}, no status, {@link #NOT_SENT}), so its
 * credential gate pauses it and {@code erasure_credentials_rejected} alerts, until the file names
 * a site id of its own. The workspace that kept its site id goes on. Said once in the log when it
 * starts and when it ends; the site ids are named (they are not secret), the keys never.
 */
public final class SiteIdGuard {
    private static final Logger log = LoggerFactory.getLogger(SiteIdGuard.class);

    /** The detail, and metric status tag, of a call not sent for calling another workspace's site id. */
    public static final String NOT_SENT = "site_id_of_another_workspace";

    /** One workspace's Track settings: where it calls, and as which site id (its key file's own, when it names one). */
    public record Member(String workspace, URI trackUrl, String siteId, Secret apiKey) {
        String inUse() {
            return Settings.CustomerIo.siteIdInUse(siteId, apiKey);
        }

    }

    /** By workspace name, in the settings' order; read-only once built. */
    private final Map<String, Member> members = new java.util.LinkedHashMap<>();
    /** The site id each workspace called at the start (checked then: no two alike at one URL). */
    private final Map<String, String> atStart = new java.util.HashMap<>();
    /** Per workspace, the site id last compared and what it gave (empty: none of the others'). */
    private final Map<String, Map.Entry<String, Optional<String>>> last = new ConcurrentHashMap<>();

    public SiteIdGuard(List<Member> members) {
        members.forEach(m -> {
            this.members.put(m.workspace(), m);
            atStart.put(m.workspace(), m.inUse());
        });
    }

    /**
     * Why this workspace's calls must not be sent now: its key file names the site id another
     * workspace at its Track URL calls; empty when it calls its own. Asked before every call: a
     * string comparison while the site id is the one it started with.
     */
    public Optional<String> conflict(String workspace) {
        Member me = members.get(workspace);
        if (me == null || members.size() < 2) {
            return Optional.empty(); // one workspace: no other's site id to call
        }
        String now = me.inUse();
        if (now.equals(atStart.get(workspace))) {
            forget(workspace);
            return Optional.empty();
        }
        Map.Entry<String, Optional<String>> seen = last.get(workspace);
        if (seen != null && seen.getKey().equals(now)) {
            return seen.getValue();
        }
        Optional<String> answer = members.values().stream()
                .filter(o -> o != me && Settings.CustomerIo.sameBaseUrl(o.trackUrl(), me.trackUrl()) && o.inUse().equals(now))
                .findFirst()
                .map(o -> "the Track key file of workspace " + workspace + " now names site id " + now + ", the one workspace "
                        + o.workspace() + " calls at " + me.trackUrl() + ": its erasures would be made in " + o.workspace()
                        + " and recorded in " + workspace + ", which would keep the person");
        last.put(workspace, Map.entry(now, answer));
        boolean wasConflict = seen != null && seen.getValue().isPresent();
        if (answer.isPresent() && !wasConflict) {
            log.error("{}; its erasures are paused, nothing is sent, until the file names a site id of its own", answer.get());
        } else if (answer.isEmpty() && wasConflict) {
            log.info("the Track key file of workspace {} names a site id no other workspace calls: its erasures resume", workspace);
        }
        return answer;
    }

    private void forget(String workspace) {
        Map.Entry<String, Optional<String>> seen = last.remove(workspace);
        if (seen != null && seen.getValue().isPresent()) {
            log.info("the Track key file of workspace {} names its own site id again: its erasures resume", workspace);
        }
    }
}
