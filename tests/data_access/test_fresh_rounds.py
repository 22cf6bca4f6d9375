"""Real-time sections under concurrency: requests arriving together share a computation, yet none gets
a value computed before it arrived (a change committed before a request shows in its answer), a
failure is not handed to a later request, and what one request is given it may change alone."""

from __future__ import annotations

import ctypes
import threading
import time

from data_access.fresh_rounds import FreshRounds, fresh_value


class Book:
    """A stand-in for the database a section reads: its state, and how long a read takes."""

    def __init__(self, seconds: float = 0.15) -> None:
        self.state, self.seconds, self.reads = 0, seconds, 0
        self.lock = threading.Lock()

    def read(self) -> dict:
        with self.lock:
            self.reads += 1
        seen, started = self.state, time.monotonic()
        time.sleep(self.seconds)
        return {"state": seen, "started": started, "rows": [{"n": 1}]}


def together(n: int, target) -> list:
    out, barrier = [None] * n, threading.Barrier(n)

    def one(i):
        barrier.wait()
        out[i] = target()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out


def test_forty_requests_at_once_share_at_most_two_computations_each_started_after_its_request():
    rounds, book = FreshRounds(), Book(seconds=0.5)  # long enough for all forty to arrive on a loaded machine

    def request():
        arrived = time.monotonic()
        value, _at = rounds.run("open_positions", book.read)
        return arrived, value

    answers = together(40, request)
    assert book.reads <= 2, book.reads  # one round, or one plus the round of those arriving as it started
    for arrived, value in answers:
        assert value["started"] >= arrived  # never a computation older than the request


def test_a_change_committed_while_a_round_runs_shows_in_every_later_request():
    rounds, book = FreshRounds(), Book(seconds=0.3)
    first = {}
    reader = threading.Thread(target=lambda: first.update(v=rounds.run("queue", book.read)[0]))
    reader.start()
    time.sleep(0.1)  # the first round is reading state 0
    book.state = 1  # committed; a request from now on must see it
    later = together(5, lambda: rounds.run("queue", book.read)[0])
    reader.join(5)
    assert first["v"]["state"] == 0
    assert [v["state"] for v in later] == [1] * 5
    assert book.reads == 2


def test_a_failed_round_fails_its_own_requests_and_the_next_request_computes_again():
    rounds, calls = FreshRounds(), []

    def flaky():
        calls.append(1)
        time.sleep(0.1)
        if len(calls) == 1:
            raise ConnectionError("database unreachable")
        return {"ok": True}

    answers = together(6, lambda: _outcome(lambda: rounds.run("health", flaky)[0]))
    assert set(map(type, answers)) <= {ConnectionError, dict}
    assert any(isinstance(a, ConnectionError) for a in answers)
    assert rounds.run("health", flaky)[0] == {"ok": True}  # the failure was not kept


def test_each_request_may_change_what_it_was_given_without_touching_the_others():
    rounds, book = FreshRounds(), Book()
    answers = together(8, lambda: rounds.run("shadow", book.read)[0])
    for i, value in enumerate(answers):
        value["rows"][0]["n"] = i
    assert sorted(v["rows"][0]["n"] for v in answers) == list(range(8))


def test_requests_for_different_arguments_never_share_a_round():
    books = {"a": Book(0.3), "b": Book(0.3)}
    books["b"].state = 7

    def section(which: str) -> dict:
        return books[which].read()

    answers = together(10, lambda: [fresh_value(section, w)[0]["state"] for w in ("a", "b")])
    assert answers == [[0, 7]] * 10
    assert all(1 <= book.reads <= 3 for book in books.values())


def _outcome(call):
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the test looks at which requests failed
        return exc


def stop_thread(thread: threading.Thread) -> None:
    """Raise SystemExit in ``thread``, as dash[testing] does to every thread when its server stops."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))


def test_a_round_whose_thread_is_stopped_leaves_its_members_and_later_requests_an_answer():
    rounds, book = FreshRounds(), Book(seconds=0.4)
    got = {}

    def ask(name):
        got[name] = rounds.run("positions", book.read)[0]

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    time.sleep(0.1)  # the first round runs
    leader = threading.Thread(target=ask, args=("leader",))  # opens the next round, waits for the first
    leader.start()
    time.sleep(0.05)
    member = threading.Thread(target=ask, args=("member",))  # joins that next round
    member.start()
    time.sleep(0.05)
    stop_thread(leader)  # it dies as it wakes, before its round starts
    for t in (first, leader, member):
        t.join(5)
    assert "leader" not in got and got["first"]["state"] == 0
    assert not member.is_alive() and got["member"]["state"] == 0  # computed on its own, no hang
    assert rounds.run("positions", book.read)[0]["state"] == 0  # and the key is free


def test_a_member_of_a_stuck_round_answers_on_its_own_after_the_wait():
    rounds, book = FreshRounds(wait_seconds=0.3), Book(seconds=0.05)
    release = threading.Event()

    def stuck_then_quick():
        if not release.is_set():
            release.set()
            time.sleep(3)  # the first round's database call hangs
        return book.read()

    leader = threading.Thread(target=lambda: rounds.run("queue", stuck_then_quick), daemon=True)
    leader.start()
    release.wait(2)
    time.sleep(0.05)
    started = time.monotonic()
    value, _at = rounds.run("queue", stuck_then_quick)  # waits for the stuck round, then its own
    assert value["state"] == 0 and time.monotonic() - started < 1.5



def _round_of_three(rounds: FreshRounds, book: Book, gather: float) -> None:
    """One round of three requests for "doc" (a first request computes while three more gather)."""
    first = threading.Thread(target=lambda: rounds.run("doc", book.read, gather))
    first.start()
    time.sleep(0.05)
    together(3, lambda: rounds.run("doc", book.read, gather))
    first.join(5)


def test_a_gathering_round_waits_for_as_many_requests_as_its_last_round_had_then_computes_once():
    rounds, book = FreshRounds(), Book(seconds=0.1)
    _round_of_three(rounds, book, gather=2.0)
    reads = book.reads

    answers = {}

    def ask(name):
        arrived = time.monotonic()
        answers[name] = (arrived, rounds.run("doc", book.read, 2.0)[0])

    threads = [threading.Thread(target=ask, args=(name,)) for name in ("a", "b", "c")]
    threads[0].start()
    time.sleep(0.2)  # "a" waits for two more: its key's last round had three
    threads[1].start()
    time.sleep(0.2)
    threads[2].start()
    for t in threads:
        t.join(5)
    assert book.reads == reads + 1  # one computation for the three
    started = {value["started"] for _arrived, value in answers.values()}
    assert len(started) == 1 and started.pop() >= max(arrived for arrived, _value in answers.values())
    assert answers["a"][1]["started"] - answers["a"][0] < 1.0  # it started when the third came, not at the limit


def test_a_lone_request_never_waits_and_a_round_that_waited_in_vain_stops_the_next_from_waiting():
    rounds, book = FreshRounds(), Book(seconds=0.01)
    started = time.monotonic()
    rounds.run("doc", book.read, 1.0)
    assert time.monotonic() - started < 0.5  # nothing before it: no wait

    _round_of_three(rounds, book, gather=0.3)
    started = time.monotonic()
    rounds.run("doc", book.read, 0.3)  # expects three, only it comes: waits the 0.3 s, then computes
    assert 0.3 <= time.monotonic() - started < 1.0
    started = time.monotonic()
    rounds.run("doc", book.read, 0.3)  # its last round had one member: no wait
    assert time.monotonic() - started < 0.2


def test_without_gathering_a_request_never_waits_for_others():
    rounds, book = FreshRounds(), Book(seconds=0.01)
    _round_of_three(rounds, book, gather=0.0)
    started = time.monotonic()
    rounds.run("doc", book.read)
    assert time.monotonic() - started < 0.2
