"""The level a line of text names, by general rules (no rule per log format).

The level is the *first* level token of the first line: a log header comes before the free
text, so "INFO ... retrying after error" is INFO. Recognised forms, as logging libraries write
them: upper-case words (``ERROR``, ``WARN``, ``FATAL``, ``SEVERE``, ``CRIT``, ``WRN``...);
capitalised words followed by a colon or column padding (``Error:``, ``Info      CBS``); any
case inside brackets (``[warn]``, ``<error>``, Apache's ``[core:warn]``), before ': '
(``sshd[42]: error: ...``) or after a level key (``level=error``, ``"severity":"WARNING"``);
syslog ``<PRI>``; klog ``E0412 ...``; Android ``E/Tag:`` and threadtime. Lower-case words
elsewhere are prose and do not count. An access-log line (combined format) takes its level from
the status (5xx ERROR, 4xx WARNING, else INFO) unless a token comes before it (a logger's
prefix). With no token: a first line that is part of a stack trace, java.util.logging's level
at the start of the second line, or a Python/Java trace further down (ERROR); else INFO.

Speed matters (normalize runs per event): the upper-case/capitalised word regex is one
alternation whose branches all start with a literal, which ``re`` scans for in C; the other
forms run only when a substring they need is present, and only before the best hit so far.
"""

from __future__ import annotations

import re

from core.levels import ERROR, INFO, UNKNOWN, WARNING
from core.normalize.names import LETTERS, SYSLOG, WORDS

WINDOW = 200  # level tokens are looked for in the first line, up to this many characters

# Words safe in every delimited form, and upper-case-only abbreviations (ambiguous otherwise).
_FULL = ("emergency", "emerg", "alert", "critical", "crit", "fatal", "panic", "error", "err", "severe",
         "warning", "warn", "notice", "information", "info", "debug", "trace", "verbose")  # fmt: skip
_UPPER_ONLY = ("TRC", "DBG", "INF", "WRN", "FTL", "FINEST", "FINER", "FINE", "FAILURE")
_LOOSE_END = r"(?=[\s\]|>),;:\"'\[]|\.(?!\w)|$)"  # after an upper-case word
_STRICT_END = r"(?=:\s|:$|\s\s|\t|\||\]|>)"  # after a capitalised word: colon or column padding
_BEFORE_OK = frozenset(" \t\r\f\v[|<(,;:\"'=")


def _alternatives(words: list[str], end: str) -> list[str]:
    # longest first, so ERROR is tried before ERR; each alternative starts with a literal so
    # the compiled pattern gets a first-character set and skips other positions in C
    return [word + end for word in sorted(words, key=len, reverse=True)]


def _by_first_letter(alternatives: list[str]) -> str:
    """``E(?:RROR...|RR...)|W(?:...)``: the same matches as ``"|".join(alternatives)``.

    At a position only the alternatives starting with its character can match, and among those
    the order is kept, so the same one wins. ``re`` does not factor prefixes itself: at each
    upper-case letter it would try every alternative, which made this search ~2.5x slower on
    lines with many capitals (user agents, Java class names).
    """
    groups: dict[str, list[str]] = {}
    for alternative in alternatives:
        groups.setdefault(alternative[0], []).append(alternative[1:])
    return "|".join(first + "(?:" + "|".join(rests) + ")" for first, rests in groups.items())


_WORD_TOKEN = re.compile(
    _by_first_letter(
        _alternatives([w.upper() for w in _FULL] + list(_UPPER_ONLY), _LOOSE_END)
        + _alternatives([w.capitalize() for w in _FULL], _STRICT_END)
    )
)
# ASCII-only case folding: Unicode folding lets look-alikes ("ınfo" with a dotless i, "ſevere")
# match, and they have no entry in WORDS.
_ANY_WORD = "(?ai:" + "|".join(sorted(_FULL, key=len, reverse=True)) + ")"
_ABBREVIATED = "(?ai:trc|dbg|inf|wrn|ftl)"
# Each pattern below starts with a literal, which ``re`` finds with a fast scan.
_SQUARE = re.compile(r"\[(?:[\w.-]+:)?\s*(" + _ANY_WORD + r")\s*\]")  # [warn], [ error ], Apache 2.4 [core:warn]
_ANGLE = re.compile(r"<\s*(" + _ANY_WORD + r")\s*>")  # <warn>
# level=error, "severity":"WARNING", lvl: warn  (not in a URL query: no '?' or '&' before the key)
_KEY_VALUE = re.compile(
    r"(?:^|(?<=[\s{,;(\[|\"']))(?i:level|lvl|severity|loglevel|log_level|levelname|log\.level)[\"']?\s*[=:]\s*[\"']?"
    r"(" + _ANY_WORD + "|" + _ABBREVIATED + r")(?![\w-])"
)
# lower-case words accepted before ': ' (.NET console writes "fail:", "dbug:", "trce:"), and
# their last three letters, a cheap first test for each ': ' in a line
_COLON_WORDS = (*_FULL, "fail", "dbug", "trce")
_COLON_LEVELS = {word: WORDS[word] for word in _COLON_WORDS}
_COLON_SUFFIXES = frozenset(word[-3:] for word in _COLON_WORDS)
# logcat brief/time format: "E/Tag( 123): msg" (found from its '/')
_LOGCAT = re.compile(r"/(?<=[VDIWEFA]/)(?<![^\s][VDIWEFA]/)[^\s:(/]{2,}\s*(?:\(\s*\d+\))?: ")
# klog/glog: "E0412 10:00:00.123456    1234 file.go:42] msg", at the start or after a prefix
_KLOG = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^\s:\]]+:\d+\] ")
_THREADTIME = re.compile(r"(?:\d{4}-)?\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+\d+\s+\d+\s+([VDIWEFA]) ")
_PRI = re.compile(r"<(\d{1,3})>")  # syslog PRI or sd-daemon prefix: severity = N % 8
# JUL's default format puts the level at the start of the second line: "...\nSEVERE: msg".
_SECOND_LINE = re.compile("(" + "|".join(w.upper() for w in _FULL) + "|FINEST|FINER|FINE): ")
# Common/combined access log: ... [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 500 2326
# The quoted request is written as an unrolled loop: the same strings as (?:[^"\\\n]|\\.)*, but
# runs of plain characters go through one repeat instead of an alternation per character.
_ACCESS = re.compile(r"\[[^\]\n]{10,40}\] \"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\" (?P<status>[1-5]\d\d) (?:\d+|-)")
# A first line that is itself part of a stack trace (shippers often split traces per line).
_TRACE_LINE = re.compile(
    r"\s*(?:at (?:[\w$<>]+\.)+[\w$<>]+\([^()]*\)\s*$|at .+ \(.*:\d+:\d+\)\s*$"  # Java, JavaScript frames
    r"|Caused by: |Traceback \(most recent call last\)|Exception in thread "
    r"|File \"[^\"]*\", line \d+|(?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)(?::|\s*$)"
    r"|[A-Z]\w*(?:Error|Exception): "
    r"|goroutine \d+ \[running\]:)"
)
_TRACE_MARKERS = ("Traceback (most recent call last):", "Exception in thread ", "\n\tat ", "\nCaused by: ")

Hit = tuple[int, int]  # (position, level)


def _bracketed(line: str, end: int) -> Hit | None:
    match = _SQUARE.search(line, 0, end)
    if "<" in line:
        match = _ANGLE.search(line, 0, end if match is None else match.start()) or match
    return None if match is None else (match.start(), WORDS[match.group(1).lower()])


def _key_value(line: str, end: int) -> Hit | None:
    low = line[:end].lower()
    if "level" not in low and "severity" not in low and "lvl" not in low:
        return None
    # The pattern has no literal prefix: a search tries it at every character. A "level" key
    # starts at most 4 characters before its "level" ("log_level"), so when the line names no
    # other key word the search starts there. Only in ASCII text: lower() may change the length
    # of other text, and so the positions.
    start = 0
    if line.isascii() and "severity" not in low and "lvl" not in low:
        start = max(0, low.find("level") - 4)
    match = _KEY_VALUE.search(line, start, end)
    return None if match is None else (match.start(), WORDS[match.group(1).lower()])


def _word_colon(line: str, end: int) -> Hit | None:
    """``error: msg``, ``sshd[42]: warning: msg``: a level word right before ': '."""
    colon = line.find(": ", 0, end + 1)
    if colon < 0 and line[-1:] == ":":
        colon = len(line) - 1
    while 0 < colon <= end:
        if line[colon - 3 : colon].lower() in _COLON_SUFFIXES:  # cheap gate: most colons follow no level word
            head = line[max(0, colon - 14) : colon]
            word = head.rsplit(None, 1)[-1].lstrip("[<(|\"'")
            start = colon - len(word)
            # the word must be whole: preceded by a delimiter inside ``head`` or by the line start
            level = _COLON_LEVELS.get(word.lower())
            if level is not None and (len(word) < len(head) or start == 0):
                return start, level
        colon = line.find(": ", colon + 1, end + 1)
    return None


def _klog_possible(line: str) -> bool:
    """False when no ``:<digits>] `` (the end of every klog header) is in ``line``: no search then.

    Access logs have "] " after their time ("+0000] "), logback after its thread ("[main] ").
    """
    end = line.find("] ")
    while end >= 0:
        # digits hold no ':', so the last ':' before "] " is the one a klog header has there;
        # isdecimal() is what \d matches (Unicode category Nd), and False for ""
        colon = line.rfind(":", 0, end)
        if colon >= 0 and line[colon + 1 : end].isdecimal():
            return True
        end = line.find("] ", end + 1)
    return False


def _first_token(line: str) -> Hit | None:
    """(position, level) of the leftmost level token of ``line``, or None."""
    first = line[:1]
    if first == "<":
        pri = _PRI.match(line)
        if pri is not None:
            return 0, SYSLOG[int(pri.group(1)) % 8]
    elif first in ("I", "W", "E", "F"):
        if _KLOG.match(line) is not None:
            return 0, LETTERS[first]
    elif first.isdigit() and (line[2:3] == "-" or line[4:5] == "-"):  # "MM-DD" or "YYYY-MM-DD": else no match
        threadtime = _THREADTIME.match(line)
        if threadtime is not None:
            return threadtime.start(1), LETTERS[threadtime.group(1)]

    best = None
    word = _WORD_TOKEN.search(line)
    while word is not None:
        start = word.start()
        if start == 0 or line[start - 1] in _BEFORE_OK:
            best = start, WORDS[word.group().lower()]
            break
        word = _WORD_TOKEN.search(line, word.end())
    # The other forms only matter before that token; cheap substring tests skip absent ones.
    end = len(line) if best is None else best[0]
    head = line if best is None else line[:end]
    if "[" in head or "<" in head:
        hit = _bracketed(line, end)
        if hit is not None:
            best, end = hit, hit[0]
    if "=" in head or ":" in head:
        hit = _key_value(line, end)
        if hit is not None:
            best, end = hit, hit[0]
    if ": " in head or head[-1:] == ":":
        hit = _word_colon(line, end)
        if hit is not None:
            best, end = hit, hit[0]
    if "/" in head and end > 1:
        logcat = _LOGCAT.search(line, 0, end)  # "E/Tag( 123): msg"
        if logcat is not None:
            best = logcat.start() - 1, LETTERS[line[logcat.start() - 1]]
    # klog after a prefix (journald, syslog): only searched when nothing else is
    if best is None and _klog_possible(line):
        klog = _KLOG.search(line)
        while klog is not None and klog.start() > 0 and not line[klog.start() - 1].isspace():
            klog = _KLOG.search(line, klog.start() + 1)
        if klog is not None:
            best = klog.start(), LETTERS[klog.group(1)]
    return best


def _status_level(status: str) -> int:
    return ERROR if status[0] == "5" else WARNING if status[0] == "4" else INFO


def level_from_text(text: str) -> int:
    """Level named by the text itself; INFO when it names none. See the module docstring."""
    if text[:1] in ("\n", "\r"):
        text = text.lstrip("\r\n")
    newline = text.find("\n")
    line = text[: WINDOW if newline < 0 else min(newline, WINDOW)]
    hit = _first_token(line)
    if '"' in line:
        access = _ACCESS.search(line)
        # a level word inside the request line or the user agent is not the event's level
        if access is not None and (hit is None or hit[0] > access.start()):
            return _status_level(access.group("status"))
    if hit is not None:
        return hit[1]
    if _TRACE_LINE.match(line):
        return ERROR
    if newline >= 0:
        second = _SECOND_LINE.match(text, newline + 1)
        if second is not None:
            return WORDS[second.group(1).lower()]
        if any(marker in text for marker in _TRACE_MARKERS):
            return ERROR
    return UNKNOWN
