"""Level detection: provider hints, structured fields, text forms (core.normalize)."""

from __future__ import annotations

import pytest

from core.levels import ALERT, CRITICAL, DEBUG, EMERGENCY, ERROR, INFO, NOTICE, TRACE, WARNING
from core.normalize import detect_level


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        # GCP LogSeverity names
        ("DEBUG", DEBUG), ("INFO", INFO), ("NOTICE", NOTICE), ("WARNING", WARNING), ("ERROR", ERROR),
        ("CRITICAL", CRITICAL), ("ALERT", ALERT), ("EMERGENCY", EMERGENCY),
        # GCP LogSeverity numbers
        (100, DEBUG), (200, INFO), (300, NOTICE), (400, WARNING), (500, ERROR), (600, CRITICAL), (800, EMERGENCY),
        # Azure SeverityLevel 0..4 = Verbose, Information, Warning, Error, Critical
        (0, DEBUG), (1, INFO), (2, WARNING), (3, ERROR), (4, CRITICAL), ("3", ERROR),
        # syslog names (Azure Syslog table) and explicit syslog numbers
        ("err", ERROR), ("crit", CRITICAL), ("emerg", EMERGENCY), ("warn", WARNING), ("Informational", INFO),
        ("syslog:0", EMERGENCY), ("syslog:3", ERROR), ("syslog:4", WARNING), ("syslog:7", DEBUG),
    ],
)  # fmt: skip
def test_provider_hint_decides(hint, expected):
    assert detect_level("ERROR text that says otherwise", None, hint) == expected


@pytest.mark.parametrize("hint", ["DEFAULT", "", "bogus", -1, 42, 950, True, "syslog:9"])
def test_hint_that_says_nothing_falls_through_to_the_payload(hint):
    assert detect_level("2024-04-12 10:00:00 WARN disk 91% full", None, hint) == WARNING
    assert detect_level("plain text", None, hint) == INFO


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"level": "error"}, ERROR), ({"severity": "WARNING"}, WARNING), ({"lvl": "dbug"}, DEBUG),
        ({"log.level": "notice"}, NOTICE), ({"levelname": "CRITICAL"}, CRITICAL), ({"log": {"level": "warn"}}, WARNING),
        ({"Level": "Information"}, INFO), ({"level": "fatal"}, CRITICAL), ({"level": "trace"}, TRACE),
        # bunyan/pino numbers, GELF (syslog) numbers, GCP numbers, numbers as strings
        ({"level": 10}, TRACE), ({"level": 20}, DEBUG), ({"level": 30}, INFO), ({"level": 40}, WARNING),
        ({"level": 50}, ERROR), ({"level": 60}, CRITICAL), ({"level": "50"}, ERROR),
        ({"level": 3}, ERROR), ({"level": 6}, INFO), ({"severity": 400}, WARNING),
    ],
)  # fmt: skip
def test_level_fields(attributes, expected):
    assert detect_level("ERROR says the text, but the field wins", attributes) == expected


@pytest.mark.parametrize("value", ["high", None, True, {"x": 1}, [], 9, 1e300, float("nan")])
def test_level_field_that_names_no_level_is_ignored(value):
    assert detect_level("WARN from the text", {"level": value}) == WARNING


def test_json_message_is_read_without_attributes():
    assert detect_level('{"level":"warn","msg":"x"}') == WARNING
    assert detect_level('{"msg":"ERROR: cannot open /etc/app.ini"}') == ERROR  # no field: its message text decides
    assert detect_level('{"message":"retrying after error"}') == INFO


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2024-04-12 10:00:00,123 ERROR [main] com.shop.Cart - boom", ERROR),
        ("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating", INFO),
        (
            "2015-07-29 19:04:29,071 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688] - leaving",
            WARNING,
        ),
        (
            "2015-10-18 18:01:47,978 FATAL [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Error starting",
            CRITICAL,
        ),
        ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6", ERROR),
        ("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok", NOTICE),
        ("[Thu Apr 12 10:00:13 2024] [core:warn] [pid 2200] AH00098: pid file overwritten", WARNING),
        ("<error> disk full", ERROR),
        ("[ WARN ] slow", WARNING),
        ('time="2024-04-12T10:00:00Z" level=warning msg="slow request error"', WARNING),
        ('{"ts":1,"level":"error"} trailing text makes it not JSON', ERROR),
        ("status=ERROR count=3", ERROR),
        ("WARNING:root:disk low", WARNING),
        ("ERROR:shop.payments:charge failed", ERROR),
        ("INFO[0000] starting server", INFO),
        ("10:00AM WRN queue slow", WARNING),
        ("2024-04-12T10:00:07Z CRIT disk failed SMART check", CRITICAL),
        ("2024-04-12T10:00:08Z [SEVERE] Connection refused", ERROR),
        ("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack", INFO),
        ("2016-09-28 04:30:30, Warning               CBS    Failed to get session", WARNING),
        ("Dec 10 06:55:46 LabSZ sshd[24200]: error: Received disconnect from 1.2.3.4", ERROR),
        ("Apr 12 10:00:05 web-1 postfix/smtp[9121]: warning: hostname does not resolve", WARNING),
        ("fail: Microsoft.AspNetCore.Server.Kestrel[13]", ERROR),
        ("dbug: Microsoft.Extensions.Hosting[1]", DEBUG),
        ("panic: runtime error: index out of range [3] with length 3", CRITICAL),
        ("Error: ENOENT: no such file or directory, open '/app/config.json'", ERROR),
        ("[VERBOSE] cache warm-up step 3", TRACE),
        ("2005-07-08-16.48.37.817558 R22-M0-N0-C:J08-U11 RAS KERNEL FAILURE link failed", ERROR),  # IBM RAS
    ],
)
def test_level_words_in_text(line, expected):
    assert detect_level(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("E0412 10:00:02.345678       1 reflector.go:147] Failed to watch *v1.Pod", ERROR),
        ("W0412 10:00:01.234567       1 reflector.go:539] failed to list *v1.Pod", WARNING),
        ("I0412 10:00:04.567890       1 event.go:307] Back-off restarting failed container, error count 3", INFO),
        ("F0412 10:00:03.456789       1 server.go:230] failed to start", CRITICAL),
        (
            'Apr 12 10:00:11 web-1 kubelet[912]: E0412 10:00:11.123456     912 pod_workers.go:1300] "Error syncing"',
            ERROR,
        ),
        ("E/AndroidRuntime( 2123): FATAL EXCEPTION: main", ERROR),
        ("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs", DEBUG),
        ("03-17 16:13:38.811  1702  2395 W WindowManager: Unable to find ITokenWindow", WARNING),
        ("03-17 16:13:38.811  1702  2395 V PhoneStatusBar: visibility changed", TRACE),  # verbose is below debug
        ("<11>Apr 12 10:00:07 web-1 app[311]: payment worker crashed", ERROR),
        ("<28>1 2024-04-12T10:00:09.000Z web-1 nginx 1200 - - upstream timed out", WARNING),
        ("<3>kernel oops", ERROR),
    ],
)
def test_klog_logcat_and_syslog_prefixes(line, expected):
    assert detect_level(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "INFO 2024-04-12 retrying after error",
        "2024-04-12 10:00:00 [INFO] connection error on retry 2, WARN threshold not reached",
        "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
        "I0412 10:00:04.567890       1 event.go:307] ERROR budget at 3%",
    ],
)
def test_first_level_token_wins_over_later_words(line):
    assert detect_level(line) == INFO


@pytest.mark.parametrize(
    "line",
    [
        "the user clicked the error button twice",
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
        "The Error handling module loaded",  # capitalised word in prose: no colon, no padding
        "Critical section entered by worker 3",
        "GET /ERROR/page returned quickly",  # not a token: part of a path
        "ERRORS: 0, WARNINGS: 0",  # plural is not a level word
        "java.lang.Error is a class name in this sentence",
        "HTTP_ERROR_CODE=0",
        "the build was fine: 3 tests",  # 'fine' counts only upper-case (java.util.logging FINE)
        "",
        "   ",
    ],
)
def test_prose_is_info(line):
    assert detect_level(line) == INFO


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('10.0.3.17 - - [12/Apr/2024:10:00:00 +0000] "GET /api/orders/42 HTTP/1.1" 200 1432 "-" "okhttp/4.12"', INFO),
        ('10.0.3.17 - - [12/Apr/2024:10:00:00 +0000] "GET /x HTTP/1.1" 301 0 "-" "curl/8"', INFO),
        ('10.0.3.17 - alice [12/Apr/2024:10:00:01 +0000] "POST /api/login HTTP/1.1" 401 87 "-" "Mozilla/5.0"', WARNING),
        ('10.0.3.18 - - [12/Apr/2024:10:00:02 +0000] "GET /api/cart HTTP/2.0" 502 157 "-" "Mozilla/5.0"', ERROR),
        ('192.168.2.20 - - [28/Jul/2006:10:22:04 -0300] "GET /missing.html HTTP/1.0" 404 285', WARNING),
        # level words in the request or the user agent are not the event's level
        ('10.0.3.20 - - [12/Apr/2024:10:00:04 +0000] "GET /debug/ERROR?level=error HTTP/1.1" 200 1 "-" "x"', INFO),
        ('10.0.3.22 - - [12/Apr/2024:10:00:06 +0000] "GET /health HTTP/1.1" 500 2 "-" "WARN bot"', ERROR),
        ('10.0.3.21 - - [12/Apr/2024:10:00:05 +0000] "\\x16\\x03\\x01\\x02\\x00" 400 157 "-" "-"', WARNING),
    ],
)
def test_access_log_status(line, expected):
    assert detect_level(line) == expected


def test_level_before_an_access_line_is_the_loggers():
    line = 'WARNING:werkzeug:127.0.0.1 - - [12/Apr/2024 10:00:00] "GET / HTTP/1.1" 500 -'
    assert detect_level(line) == WARNING


@pytest.mark.parametrize(
    "text",
    [
        'Traceback (most recent call last):\n  File "x.py", line 3, in <module>\n    DEBUG = 1\nValueError: bad',
        'Exception in thread "main" java.lang.NullPointerException\n\tat com.shop.Cart.total(Cart.java:41)',
        "java.lang.IllegalStateException: closed\n\tat com.shop.Pool.get(Pool.java:12)",
        "\tat com.shop.Cart.total(Cart.java:41)",
        "    at Runtime.handler (/var/task/index.js:14:27)",
        "Caused by: java.io.IOException: Broken pipe",
        '  File "/app/worker/jobs.py", line 88, in run',
        "KeyError: 'amount'",
        "org.apache.kafka.common.errors.SerializationException: Error deserializing key",
        'request failed\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>',
        "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:12 +0x1d",
    ],
)
def test_stack_traces_are_errors(text):
    assert detect_level(text) == ERROR


def test_logged_exception_keeps_the_loggers_level():
    text = (
        "2024-04-12 10:00:06,001 WARN  [scheduler-1] RetryPolicy - giving up\n"
        "java.net.SocketTimeoutException: x\n\tat a.B.c(B.java:1)"
    )
    assert detect_level(text) == WARNING


def test_java_util_logging_level_on_the_second_line():
    assert detect_level("Apr 12, 2024 10:00:00 AM com.shop.Db connect\nSEVERE: database down") == ERROR
    assert detect_level("Apr 12, 2024 10:00:00 AM com.shop.Db connect\nINFO: connected") == INFO


def test_only_the_start_of_a_long_line_is_read():
    assert detect_level("x " * 200 + "ERROR late") == INFO
    assert detect_level("x " * 50 + "ERROR early enough") == ERROR


def test_bytes_are_accepted():
    assert detect_level(b"ERROR \xff\xfe broken bytes") == ERROR
