/**
 * One INI writer for every INI-shaped file we render: systemd units and drop-ins, and
 * wg0.conf. Entries are ordered pairs so repeated keys (PostUp, After) keep their order.
 */

export type IniValue = string | number;
export type IniEntries = ReadonlyArray<readonly [string, IniValue]>;

export interface IniSection {
  name: string;
  /** Comment lines written right under the section header. */
  comment?: readonly string[];
  entries: IniEntries;
}

function assertSingleLine(text: string, what: string): void {
  if (/[\r\n]/.test(text)) throw new Error(`${what} must be a single line`);
}

function commentLines(lines: readonly string[] | undefined): string[] {
  return (lines ?? []).map((line) => {
    assertSingleLine(line, "INI comment");
    return line === "" ? "#" : `# ${line}`;
  });
}

export function renderIni(
  sections: readonly IniSection[],
  headerComment?: readonly string[],
  /** wg-quick documents "Key = Value", systemd "Key=Value"; both parse either. */
  separator = " = ",
): string {
  const blocks: string[] = [];
  const header = commentLines(headerComment);
  if (header.length > 0) blocks.push(header.join("\n"));
  for (const section of sections) {
    const lines = [`[${section.name}]`, ...commentLines(section.comment)];
    for (const [key, value] of section.entries) {
      const text = String(value);
      assertSingleLine(text, `INI value of ${key}`);
      lines.push(`${key}${separator}${text}`);
    }
    blocks.push(lines.join("\n"));
  }
  return blocks.join("\n\n") + "\n";
}

/** systemd unit file or drop-in; sections in the conventional order, empty ones left out. */
export interface SystemdUnit {
  comment?: readonly string[];
  unit?: IniEntries;
  service?: IniEntries;
  install?: IniEntries;
}

export function renderSystemdUnit(unit: SystemdUnit): string {
  const sections: IniSection[] = [];
  if (unit.unit?.length) sections.push({ name: "Unit", entries: unit.unit });
  if (unit.service?.length) sections.push({ name: "Service", entries: unit.service });
  if (unit.install?.length) sections.push({ name: "Install", entries: unit.install });
  return renderIni(sections, unit.comment, "=");
}
