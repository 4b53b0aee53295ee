/**
 * The two layers of escaping between a partition value and `add.path` (DELTA-FACTS 1.5):
 *   1. the directory name, Hive style, exactly as Spark's `ExternalCatalogUtils.escapePathName` does on
 *      non-Windows hosts, so Spark, delta-rs and we lay out the same directories;
 *   2. `add.path`, the relative path as an RFC 2396 URI, so a `%` of layer 1 becomes `%25`.
 * Readers decode `add.path` once and use the result literally; only decode(add.path) == the file's relative path
 * is a contract, but matching Spark's layout keeps tables written by both writers tidy.
 */

export const HIVE_DEFAULT_PARTITION = '__HIVE_DEFAULT_PARTITION__';

// Spark's set: U+0001–U+001F " # % ' * / : = ? \ U+007F { [ ] ^ (space < > | only on Windows, which we never are).
const ESCAPED = new Uint8Array(128);
for (let code = 0x01; code <= 0x1f; code++) ESCAPED[code] = 1;
for (const char of '"#%\'*/:=?\\\u007f{[]^') ESCAPED[char.charCodeAt(0)] = 1;

const HEX = '0123456789ABCDEF';

/** Hive escaping of one path segment (a column name or a partition value), per UTF-16 code unit like Spark. */
export function escapePathName(text: string): string {
  let out = '';
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 128 && ESCAPED[code] === 1) out += `%${HEX[code >> 4]}${HEX[code & 0x0f]}`;
    else out += text[index];
  }
  return out;
}

/** Inverse of `escapePathName` (Spark's `unescapePathName`, without its off-by-one at the end of the string). */
export function unescapePathName(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** The directory segment of one partition column: `escape(column)=escape(value)`; null or '' is Hive's default. */
export function partitionSegment(column: string, value: string | null | undefined): string {
  const escapedValue = value === null || value === undefined || value === '' ? HIVE_DEFAULT_PARTITION : escapePathName(value);
  return `${escapePathName(column)}=${escapedValue}`;
}

/**
 * The relative directory of a partition, `a=x/b=y`, in partition-column order; '' for an unpartitioned table.
 * `values` holds the serialised partition values (as in `add.partitionValues`).
 */
export function partitionDirectory(
  columns: readonly string[],
  values: Readonly<Record<string, string | null | undefined>>,
): string {
  return columns.map((column) => partitionSegment(column, values[column])).join('/');
}

/** Parses a partition directory back into values (null for Hive's default partition). For tests and tools. */
export function parsePartitionDirectory(directory: string): Record<string, string | null> {
  const values: Record<string, string | null> = {};
  if (directory === '') return values;
  for (const segment of directory.split('/')) {
    const equals = segment.indexOf('=');
    if (equals < 0) throw new Error(`Not a partition directory segment (no '='): ${segment}`);
    const value = segment.slice(equals + 1);
    values[unescapePathName(segment.slice(0, equals))] = value === HIVE_DEFAULT_PARTITION ? null : unescapePathName(value);
  }
  return values;
}

// encodeURIComponent leaves RFC 2396's unreserved set (A-Z a-z 0-9 - _ . ! ~ * ' ( )); a path may also keep these
// reserved characters unencoded, as Java's URI (hence Spark/Hadoop) does: ; : @ & = + $ , /
const PATH_SAFE_ESCAPES = /%(3B|3A|40|26|3D|2B|24|2C|2F)/g;

/**
 * `add.path` for a path relative to the table root: RFC 2396 percent-encoding, e.g.
 * `event_type=a%2Fb/part-….parquet` → `event_type=a%252Fb/part-….parquet`. Non-ASCII characters are encoded as
 * UTF-8 octets (Java would leave them raw; both forms decode to the same path, and this one is plain ASCII).
 */
export function addPathFor(relativePath: string): string {
  return encodeURIComponent(relativePath).replace(PATH_SAFE_ESCAPES, (escape) =>
    String.fromCharCode(Number.parseInt(escape.slice(1), 16)),
  );
}

/** Inverse of `addPathFor`: the relative file path an `add.path` names (every %XX decoded once, as UTF-8). */
export function decodeAddPath(addPath: string): string {
  return decodeURIComponent(addPath);
}
