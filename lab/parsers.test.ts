/** @tier unit */
import {
  CLOUD_INIT_FINISHED,
  parseCloudInitFinished,
  parseCloudInitResult,
  parseCloudInitStatus,
  parseIperf3,
  parseKernelPanic,
  parseLatestHandshakes,
  parsePing,
} from "./parsers";

/** The parsers both labs use (namespaces and VMs): one reading of each tool's output. */
describe("host output parsers", () => {
  it("reads cloud-init's console line, status and result.json", () => {
    const line =
      "Cloud-init v. 22.4.2 finished at Tue, 24 Nov 2026 18:56:00 +0000. Datasource DataSourceNoCloud [seed=/dev/vdb][dsmode=net].  Up 284.29 seconds";
    expect(CLOUD_INIT_FINISHED.exec(line)?.[1]).toBe("284.29");
    expect(parseCloudInitFinished(`[  OK  ] Started foo\r\n${line}\r\n`)).toBe(284.29);
    expect(parseCloudInitFinished("Cloud-init v. 22.4.2 running 'modules:final'")).toBeUndefined();
    expect(parseCloudInitStatus("....\nstatus: done\nboot_status_code: enabled")).toBe("done");
    expect(parseCloudInitStatus("status: error\ndetail:\n('locale', ...)")).toBe("error");
    expect(parseCloudInitResult('{"v1": {"datasource": "DataSourceNoCloud", "errors": []}}').errors).toEqual([]);
    expect(parseCloudInitResult('{"v1": {"errors": ["(\'locale\', boom)"]}}').errors).toHaveLength(1);
    expect(() => parseCloudInitResult('{"v2": {}}')).toThrow(/not a cloud-init result/);
  });

  it("spots a kernel panic on the console", () => {
    expect(parseKernelPanic("x\nKernel panic - not syncing: VFS: Unable to mount root fs\r\nmore")).toBe(
      "Kernel panic - not syncing: VFS: Unable to mount root fs",
    );
    expect(parseKernelPanic("all fine")).toBeUndefined();
  });

  it("reads ping summaries: counts and RTT, total loss, and no summary at all as 100% loss", () => {
    const ok =
      "--- 192.168.1.3 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 402ms\nrtt min/avg/max/mdev = 0.512/0.710/0.901/0.159 ms\n";
    expect(parsePing(ok)).toEqual({
      transmitted: 3,
      received: 3,
      lossPercent: 0,
      rttMinMs: 0.512,
      rttAvgMs: 0.71,
      rttMaxMs: 0.901,
    });
    expect(parsePing("1 packets transmitted, 0 received, 100% packet loss, time 0ms")).toEqual({
      transmitted: 1,
      received: 0,
      lossPercent: 100,
    });
    expect(parsePing("connect: Network is unreachable")).toEqual({ transmitted: 0, received: 0, lossPercent: 100 });
  });

  it("reads iperf3 JSON: receiver throughput; errors and killed clients are failures", () => {
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
    expect(parseIperf3(JSON.stringify({ error: "unable to connect to server" }))).toMatchObject({
      ok: false,
      error: "unable to connect to server",
    });
    const stalled = JSON.stringify({
      end: { sum_received: { bytes: 0, bits_per_second: 0, seconds: 3 } },
      error: "unable to send",
    });
    expect(parseIperf3(stalled)).toMatchObject({ ok: false, bytesReceived: 0, error: "unable to send" });
    expect(parseIperf3('{"start": {')).toMatchObject({ ok: false, error: expect.stringContaining("no iperf3 result") });
  });

  it("reads WireGuard handshakes, ignoring other lines of the same command", () => {
    expect(parseLatestHandshakes("KERNEL-WG\nkeyA=\t1000\nkeyB=\t0\n", 1010)).toEqual({ "keyA=": 10, "keyB=": null });
    expect(parseLatestHandshakes("", 1010)).toEqual({});
  });
});
