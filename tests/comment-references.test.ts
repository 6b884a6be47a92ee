/** @tier unit */
/**
 * A comment that names a file of this repository (`lab/vm/index.ts`, `docs/ha.md`) sends its
 * reader there, so the file must exist: this reads the comments of every tracked .ts, .js and
 * .sh file and lists, as file:line, each repo-relative path that names nothing. A path counts
 * when its first segment is one of the repository's own top-level folders; absolute paths
 * (/etc/…), URLs and patterns (`lab/scenarios/*.ts`, `cloud-init/<name>.ts`) do not.
 */
import { execFileSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import { join } from "path";
import ts from "typescript";

const ROOT = join(__dirname, "..");

/** Each comment line of a file, with its 1-based line number. */
export function commentLines(file: string, text: string): { line: number; text: string }[] {
  return file.endsWith(".sh") ? shellComments(text) : scriptComments(file, text);
}

/** TypeScript's own parser finds the comments, so strings, templates and regexes never pass for one. */
function scriptComments(file: string, text: string): { line: number; text: string }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const seen = new Map<number, ts.CommentRange>();
  const visit = (node: ts.Node) => {
    for (const range of [
      ...(ts.getLeadingCommentRanges(text, node.pos) ?? []),
      ...(ts.getTrailingCommentRanges(text, node.end) ?? []),
    ]) {
      seen.set(range.pos, range);
    }
    for (const child of node.getChildren(source)) visit(child);
  };
  visit(source);
  return [...seen.values()].flatMap((range) => {
    const first = source.getLineAndCharacterOfPosition(range.pos).line + 1;
    return text
      .slice(range.pos, range.end)
      .split("\n")
      .map((line, i) => ({ line: first + i, text: line }));
  });
}

/** A `#` that starts a line, or follows white space outside quotes; never the shebang. */
function shellComments(text: string): { line: number; text: string }[] {
  return text.split("\n").flatMap((line, i) => {
    if (i === 0 && line.startsWith("#!")) return [];
    let quote: string | undefined;
    for (let at = 0; at < line.length; at++) {
      const c = line[at];
      if (quote) {
        if (c === quote) quote = undefined;
        else if (c === "\\" && quote === '"') at++;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === "\\") at++;
      else if (c === "#" && (at === 0 || /\s/.test(line[at - 1]))) return [{ line: i + 1, text: line.slice(at) }];
    }
    return [];
  });
}

/** The repo-relative paths a comment line names: first segment a top-level folder of the repository. */
export function pathsIn(comment: string, topLevel: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const m of comment.matchAll(/(?<=^|[\s`'"([{<,;=])[\w.@*<>{}-]+(?:\/[\w.@*<>{}-]*)+/g)) {
    const path = m[0].replace(/[.]+$/, "");
    if (/[*<>{}]/.test(path)) continue; // a pattern or placeholder, not one file
    if (!topLevel.has(path.split("/")[0])) continue;
    out.push(path);
  }
  return out;
}

/**
 * `file:line: path` for every path named in a comment of `sources` that does not exist under
 * `root` (a module path such as `testkit/programRun` may leave out its .ts or .js).
 */
export function missingReferences(
  root: string,
  sources: { file: string; text: string }[],
  topLevel: ReadonlySet<string>,
): string[] {
  return sources.flatMap(({ file, text }) =>
    commentLines(file, text).flatMap(({ line, text: comment }) =>
      pathsIn(comment, topLevel)
        .filter((path) => !["", ".ts", ".js"].some((ext) => existsSync(join(root, path + ext))))
        .map((path) => `${file}:${line}: ${path}`),
    ),
  );
}

function tracked(): string[] {
  const out = execFileSync("git", ["ls-files", "-z", "--", "*.ts", "*.js", "*.sh", "*.cjs", "*.mjs"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return out.split("\0").filter((f) => f !== "" && existsSync(join(ROOT, f)));
}

function topLevelFolders(): Set<string> {
  const out = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" });
  return new Set(
    out
      .split("\0")
      .filter((f) => f.includes("/"))
      .map((f) => f.split("/")[0]),
  );
}

describe("paths named in comments", () => {
  const topLevel = topLevelFolders();

  test("every repo-relative path a comment names exists", () => {
    const files = tracked();
    expect(files.length).toBeGreaterThan(100);
    const sources = files.map((file) => ({ file, text: readFileSync(join(ROOT, file), "utf8") }));
    expect(missingReferences(ROOT, sources, topLevel)).toEqual([]);
  });

  test("negative control: a planted comment naming a missing file is reported, with its file and line", () => {
    const planted = [
      {
        file: "planted.ts",
        text: [
          'const url = "see lab/no-such-file.ts"; // a string is not a comment',
          "/**",
          " * Reads config/schema.ts, as docs/ha.md says.",
          " * Moved here from components/no-such-schema.test.ts.",
          " */",
          "const pattern = /lab\\/nowhere\\.ts/; // and tests/absent.test.ts too",
          "export const x = [url, pattern]; // (lab/scenarios/*.ts is a pattern; /etc/nowhere.conf is absolute)",
        ].join("\n"),
      },
      {
        file: "planted.sh",
        text: ["#!/bin/sh", 'echo "# scripts/not-a-comment.sh"', "# Runs scripts/missing-helper.sh first."].join("\n"),
      },
    ];
    expect(missingReferences(ROOT, planted, topLevel)).toEqual([
      "planted.ts:4: components/no-such-schema.test.ts",
      "planted.ts:6: tests/absent.test.ts",
      "planted.sh:3: scripts/missing-helper.sh",
    ]);
  });
});
