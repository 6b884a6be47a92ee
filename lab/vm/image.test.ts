/** @tier unit */
import { DEFAULT_CACHE_ROOT, imageCacheKey, imageRecipe, parseDebianMirror } from "./image";

describe("VM image recipe", () => {
  it("keys the cache on the package list and the build script", () => {
    const base = imageCacheKey(imageRecipe("script v1"));
    expect(imageCacheKey(imageRecipe("script v1"))).toBe(base);
    expect(imageCacheKey(imageRecipe("script v2"))).not.toBe(base);
    const recipe = imageRecipe("script v1");
    expect(imageCacheKey({ ...recipe, basePackages: [...recipe.basePackages, "iptables"] })).not.toBe(base);
  });

  it("is cached outside the clone, so a second clone reuses it", () => {
    expect(DEFAULT_CACHE_ROOT).toBe("/var/cache/scaleway-wireguard-s2s/vm");
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
