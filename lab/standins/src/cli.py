"""A small cobra/pflag look-alike: same flag syntax and the same error texts."""


class UsageError(Exception):
    pass


class Flag:
    def __init__(self, name, kind="str", default=None, short=None, noopt=None):
        self.name, self.kind, self.default, self.short = name, kind, default, short
        self.noopt = noopt  # pflag's NoOptDefVal: the value of a bare --name (no next-arg consumption)


def parse_flags(argv, flags, interspersed=True):
    """flags: list[Flag]. Returns (values, changed:set, positional)."""
    by_name = {f.name: f for f in flags}
    by_short = {f.short: f for f in flags if f.short}
    vals = {f.name: (list(f.default) if isinstance(f.default, list) else f.default) for f in flags}
    changed, pos = set(), []
    i = 0

    def setv(f, raw):
        if f.kind == "bool":
            if raw is None:
                v = True
            elif raw.lower() in ("true", "1", "t"):
                v = True
            elif raw.lower() in ("false", "0", "f"):
                v = False
            else:
                raise UsageError(f'invalid argument "{raw}" for "--{f.name}" flag: strconv.ParseBool: parsing "{raw}": invalid syntax')
        elif f.kind == "int":
            try:
                v = int(raw)
            except ValueError:
                raise UsageError(f'invalid argument "{raw}" for "--{f.name}" flag: strconv.ParseInt: parsing "{raw}": invalid syntax')
        elif f.kind == "strs":
            v = (vals[f.name] if f.name in changed else []) + [x for x in raw.split(",") if x != ""]
        elif f.kind == "strarr":
            v = (vals[f.name] if f.name in changed else []) + [raw]
        else:
            v = raw
        vals[f.name] = v
        changed.add(f.name)

    while i < len(argv):
        a = argv[i]
        if a == "--":
            pos.extend(argv[i + 1:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, raw = a[2:].partition("=")
            f = by_name.get(name)
            if f is None:
                raise UsageError(f"unknown flag: --{name}")
            if f.kind == "bool":
                setv(f, raw if eq else None)
            elif f.noopt is not None and not eq:
                setv(f, f.noopt)
            else:
                if not eq:
                    if i + 1 >= len(argv):
                        raise UsageError(f"flag needs an argument: --{name}")
                    i += 1
                    raw = argv[i]
                setv(f, raw)
        elif a.startswith("-") and len(a) > 1:
            s = a[1:]
            j = 0
            while j < len(s):
                c = s[j]
                f = by_short.get(c)
                if f is None:
                    raise UsageError(f"unknown shorthand flag: '{c}' in -{s}")
                if f.kind == "bool":
                    if j + 1 < len(s) and s[j + 1] == "=":
                        setv(f, s[j + 2:])
                        break
                    setv(f, None)
                    j += 1
                    continue
                rest = s[j + 1:]
                if rest.startswith("="):
                    rest = rest[1:]
                if rest:
                    setv(f, rest)
                else:
                    if i + 1 >= len(argv):
                        raise UsageError(f"flag needs an argument: '{c}' in -{s}")
                    i += 1
                    setv(f, argv[i])
                break
        else:
            if not interspersed:
                pos.extend(argv[i:])
                break
            pos.append(a)
        i += 1
    return vals, changed, pos
