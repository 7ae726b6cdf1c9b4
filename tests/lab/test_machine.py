"""The machine line of the reports names the CPU and numpy's BLAS kernel (a seed's demonstrations
depend on the kernel)."""
import platform

from recap_lab.machine import blas_kernel, cpu_model, machine_summary


def test_the_cpu_model_is_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n")
    assert cpu_model(info) == "AMD EPYC 7B13"


def test_without_cpuinfo_the_platform_names_the_cpu(tmp_path):
    assert cpu_model(tmp_path / "missing") == (platform.processor() or platform.machine())


def test_the_summary_names_the_blas_library_numpy_loaded():
    kernel = blas_kernel()
    assert kernel != "unknown" and kernel.split()[0] in ("openblas", "mkl", "blis", "flexiblas")
    summary = machine_summary()
    assert f"numpy BLAS {kernel}" in summary and platform.machine() in summary
