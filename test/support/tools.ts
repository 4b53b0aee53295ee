/**
 * Whether a test's outside tool (a Debian package `.ci/run` installs) is here. In CI a missing tool is a failure,
 * never a silent pass; on a developer's machine the test is skipped with a line saying what to install.
 */
export function requireTool(present: boolean, what: string, debianPackages: string): boolean {
  if (present) return true;
  const hint = `${what} is not installed: apt-get install ${debianPackages} (bash .ci/run installs it)`;
  if (process.env.CI) throw new Error(hint);
  console.log(`  SKIPPED: ${hint}`);
  return false;
}
