// CSV (RFC 4180) for exports: fields with a comma, quote or line break are quoted, quotes
// doubled. A field starting with = + - @ gets a leading apostrophe: a spreadsheet would
// otherwise run it as a formula (task names and args are anyone's text).
export function csvField(value: unknown): string {
  let text = value === null || value === undefined ? "" : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvField).join(",")}\r\n`;
}
