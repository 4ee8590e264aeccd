"""Run calls at the same instant, each on its own database connection (transaction=True
tests), to prove a row lock or a unique constraint lets only one of them through."""

import threading

from django.db import connection


def race(*calls, expected: type[Exception] | tuple[type[Exception], ...]):
    """Start every call at once; return (results, errors) where errors are the `expected`
    refusals. Any other exception fails the thread, and the test with it."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []

    def run(call):
        try:
            barrier.wait(timeout=10)
            results.append(call())
        except expected as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors
