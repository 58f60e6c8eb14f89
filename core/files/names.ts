/** Characters SharePoint and OneDrive refuse in a file name, and `#`/`%`, which break links to it. */
const INVALID = /["*:<>?/\\|#%]|\p{Cc}/gu;
/** Names SharePoint reserves, whatever the extension. */
const RESERVED = /^(con|prn|aux|nul|com\d|lpt\d|desktop\.ini|_vti_)$/i;
/** Longest name kept, in UTF-16 code units (SharePoint allows 400 for the whole path). */
const MAX_NAME = 120;

/**
 * A file name SharePoint accepts, made from a source name: invalid characters become `_`, leading and
 * trailing spaces and dots go, reserved names get a `_` prefix, long names are cut before the extension.
 * An empty result falls back to `fallback` (the source file id).
 */
export function sharePointName(name: string, fallback: string): string {
  let clean = name
    .replace(INVALID, '_')
    .trim()
    .replace(/^[.\s]+|[.\s]+$/g, '');
  if (clean.startsWith('~$')) clean = `_${clean.slice(1)}`;
  const dot = clean.lastIndexOf('.');
  const stem = dot > 0 ? clean.slice(0, dot) : clean;
  const ext = dot > 0 ? clean.slice(dot) : '';
  if (RESERVED.test(stem) || RESERVED.test(clean)) clean = `_${clean}`;
  if (clean.length > MAX_NAME) {
    const keep = ext.length < 20 ? ext : '';
    clean = `${[...stem]
      .slice(0, MAX_NAME - keep.length)
      .join('')
      .trimEnd()}${keep}`;
  }
  return clean || fallback.replace(INVALID, '_') || 'file';
}

/** `report.pdf` -> `report (2).pdf`: the n-th file of one name in a folder, as OneDrive names copies. */
export function numberedName(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`;
}

/**
 * Gives each source file of one channel its name in the channel's files folder, in the order files are
 * first seen: the SharePoint-safe source name, or `name (2).ext`, `name (3).ext`, ... when another file
 * already has that name (compared without case, as SharePoint does). The same file id always gets the
 * same name, and the same export read in the same order gives the same names on every run.
 */
export class FileNamer {
  private readonly byId = new Map<string, string>();
  private readonly taken = new Set<string>();

  nameFor(fileId: string, sourceName: string): string {
    const known = this.byId.get(fileId);
    if (known !== undefined) return known;
    const base = sharePointName(sourceName, fileId);
    let name = base;
    for (let n = 2; this.taken.has(name.toLowerCase()); n++) name = numberedName(base, n);
    this.taken.add(name.toLowerCase());
    this.byId.set(fileId, name);
    return name;
  }
}
