/**
 * Tables that a README carries between two HTML-comment markers and that are generated from
 * a module (the stand-ins of lab/standins/list.ts, the VM image's package set of
 * lab/vm/ubuntuPackageSet.ts). A test compares the README's rows with the module's, cell by
 * cell (prettier pads the columns, so text comparison would fail on layout alone), and the
 * module's `--write` puts the generated table back between the markers.
 */

export interface TableMarkers {
  begin: string;
  end: string;
}

const cell = (text: string) => text.replace(/\|/g, "\\|");

/** A markdown table: one header row, then the rows, every `|` in a cell escaped. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.map(cell).join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

/** The body rows of the table between the markers, as cells; undefined when a marker is missing. */
export function readmeTableRows(readme: string, markers: TableMarkers): string[][] | undefined {
  const a = readme.indexOf(markers.begin);
  const b = readme.indexOf(markers.end);
  if (a < 0 || b < a) return undefined;
  return readme
    .slice(a + markers.begin.length, b)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("|"))
    .slice(2)
    .map((l) =>
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim().replace(/\\\|/g, "|")),
    );
}

/** The README with the text between its markers replaced by `table`. */
export function withGeneratedTable(readme: string, markers: TableMarkers, table: string): string {
  const a = readme.indexOf(markers.begin);
  const b = readme.indexOf(markers.end);
  if (a < 0 || b < a) throw new Error(`no "${markers.begin}" ... "${markers.end}" markers`);
  return `${readme.slice(0, a + markers.begin.length)}\n\n${table}\n\n${readme.slice(b)}`;
}
