import { imageCacheKey, imageRecipe, parseDebianMirror } from "./image";

describe("VM image recipe", () => {
  it("keys the cache on package lists and build script, not on list order", () => {
    const base = imageCacheKey(imageRecipe([], "script v1"));
    expect(imageCacheKey(imageRecipe([], "script v1"))).toBe(base);
    expect(imageCacheKey(imageRecipe(["nftables", "wireguard-tools"], "script v1"))).toBe(base); // already in the repo list
    expect(imageCacheKey(imageRecipe(["iptables"], "script v1"))).not.toBe(base);
    expect(imageCacheKey(imageRecipe([], "script v2"))).not.toBe(base);
  });

  it("finds the main Debian mirror in deb822 and one-line sources, skipping security", () => {
    const deb822 = [
      "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main",
      "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main",
    ].join("\n\n");
    expect(parseDebianMirror([deb822])).toBe("http://mirror.example/debian");
    expect(parseDebianMirror(["deb [arch=amd64] http://ftp.fr.debian.org/debian bookworm main\n"])).toBe(
      "http://ftp.fr.debian.org/debian",
    );
    expect(
      parseDebianMirror(["deb http://security.debian.org/debian-security bookworm-security main\n"]),
    ).toBeUndefined();
  });
});
