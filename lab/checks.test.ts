/** @tier unit */
import { parseIperf3, parseLatestHandshakes, parsePing } from "./checks";

test("parsePing reads counts and RTT, and a total failure as 100% loss", () => {
  const ok = parsePing(
    "--- 192.168.1.3 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 402ms\nrtt min/avg/max/mdev = 0.512/0.710/0.901/0.159 ms\n",
  );
  expect(ok).toEqual({ transmitted: 3, received: 3, lossPercent: 0, rttMinMs: 0.512, rttAvgMs: 0.71, rttMaxMs: 0.901 });
  const lost = parsePing("3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n");
  expect(lost).toEqual({ transmitted: 3, received: 0, lossPercent: 100 });
  expect(parsePing("ping: connect: Network is unreachable\n")).toEqual({
    transmitted: 0,
    received: 0,
    lossPercent: 100,
  });
});

test("parseIperf3: receiver throughput; errors and killed clients are failures", () => {
  const good = JSON.stringify({
    end: {
      sum_received: { bytes: 50_000_000, bits_per_second: 133_333_333, seconds: 3 },
      sum_sent: { retransmits: 4 },
    },
  });
  expect(parseIperf3(good)).toEqual({
    ok: true,
    mbps: 133.3,
    bitsPerSecond: 133_333_333,
    bytesReceived: 50_000_000,
    retransmits: 4,
    seconds: 3,
  });
  const stalled = JSON.stringify({
    end: { sum_received: { bytes: 0, bits_per_second: 0, seconds: 3 } },
    error: "unable to send",
  });
  expect(parseIperf3(stalled)).toMatchObject({ ok: false, bytesReceived: 0, error: "unable to send" });
  expect(parseIperf3('{"start": {')).toMatchObject({ ok: false, error: expect.stringContaining("no iperf3 result") });
});

test("parseLatestHandshakes: seconds since the handshake, null for never", () => {
  expect(parseLatestHandshakes("keyA=\t1000\nkeyB=\t0\n", 1010)).toEqual({ "keyA=": 10, "keyB=": null });
});
