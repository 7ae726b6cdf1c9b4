"""The processes that run the scripted expert limit numpy's BLAS to one thread."""

from threadpoolctl import threadpool_info, threadpool_limits

from recap_sim.blas_threads import one_blas_thread


def blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_one_blas_thread_limits_and_restores():
    before = blas_threads()
    assert before  # numpy's OpenBLAS is loaded
    with one_blas_thread():
        assert blas_threads() == {1}
    assert blas_threads() == before


def test_a_demonstration_worker_starts_with_one_blas_thread():
    from recap_lab import datagen

    with threadpool_limits(limits=None):  # changes nothing, restores this process's setting on exit
        datagen._start_worker(datagen.DatagenConfig(task="transfer_cube", episodes=1))
        try:
            assert blas_threads() == {1}
        finally:
            datagen._worker[0].close()
            datagen._worker = ()
