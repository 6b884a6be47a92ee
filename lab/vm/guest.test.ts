import { CLOUD_INIT_FINISHED, parseCloudInitResult, parseCloudInitStatus, parseIperf, parsePing } from "./guest";

describe("guest output parsers", () => {
  it("reads cloud-init's console line, status and result.json", () => {
    const line =
      "Cloud-init v. 22.4.2 finished at Tue, 24 Nov 2026 18:56:00 +0000. Datasource DataSourceNoCloud [seed=/dev/vdb][dsmode=net].  Up 284.29 seconds";
    expect(CLOUD_INIT_FINISHED.exec(line)?.[1]).toBe("284.29");
    expect(parseCloudInitStatus("....\nstatus: done\nboot_status_code: enabled")).toBe("done");
    expect(parseCloudInitStatus("status: error\ndetail:\n('locale', ...)")).toBe("error");
    expect(parseCloudInitResult('{"v1": {"datasource": "DataSourceNoCloud", "errors": []}}').errors).toEqual([]);
    expect(parseCloudInitResult('{"v1": {"errors": ["(\'locale\', boom)"]}}').errors).toHaveLength(1);
    expect(() => parseCloudInitResult('{"v2": {}}')).toThrow(/not a cloud-init result/);
  });

  it("reads ping summaries, including total loss", () => {
    const ok =
      "5 packets transmitted, 5 received, 0% packet loss, time 2004ms\nrtt min/avg/max/mdev = 1.1/2.5/4.0/0.9 ms";
    expect(parsePing(ok)).toEqual({ transmitted: 5, received: 5, lossPercent: 0, rttAvgMs: 2.5 });
    const lost = "1 packets transmitted, 0 received, 100% packet loss, time 0ms";
    expect(parsePing(lost)).toEqual({ transmitted: 1, received: 0, lossPercent: 100, rttAvgMs: undefined });
    expect(parsePing("connect: Network is unreachable")).toBeUndefined();
  });

  it("reads iperf3 JSON and surfaces its errors", () => {
    const json = JSON.stringify({
      end: { sum_received: { bits_per_second: 8e7, seconds: 5 }, sum_sent: { retransmits: 3 } },
    });
    expect(parseIperf(json)).toEqual({ receivedBitsPerSecond: 8e7, retransmits: 3, seconds: 5 });
    expect(() => parseIperf(JSON.stringify({ error: "unable to connect to server" }))).toThrow(/unable to connect/);
  });
});
