// A node:test reporter that prints one closing line with the counts and fails the
// process when no test ran at all (a suite that silently ran nothing is not green).
export default async function* countReporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const event of source) {
    if (event.type === "test:pass" && event.data.details?.type !== "suite") {
      if (event.data.skip || event.data.todo) skipped++;
      else passed++;
    } else if (event.type === "test:fail" && event.data.details?.type !== "suite") {
      failed++;
    }
  }
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`;
  if (passed + failed === 0) {
    yield "no tests ran\n";
    process.exitCode = 1;
  }
}
