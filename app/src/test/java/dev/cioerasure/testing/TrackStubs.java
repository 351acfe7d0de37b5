package dev.cioerasure.testing;

import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.github.tomakehurst.wiremock.WireMockServer;

/** WireMock standing in for Customer.io's Track API. */
public final class TrackStubs {
    private TrackStubs() { }

    /** A started stub on a free port, answering every suppress and destroy healthily. */
    public static WireMockServer started() {
        WireMockServer track = new WireMockServer(options().dynamicPort());
        track.start();
        healthy(track);
        return track;
    }

    /** suppress and destroy answer 200 {} (Customer.io's answer, also for people already gone). */
    public static void healthy(WireMockServer track) {
        track.stubFor(post(urlPathMatching("/api/v1/customers/[^/]+/suppress")).willReturn(okJson("{}")));
        track.stubFor(delete(urlPathMatching("/api/v1/customers/[^/]+")).willReturn(okJson("{}")));
    }
}
