"""Point the ROS wheels' prebuilt rosidl Python cmake exports at this interpreter.

The `*__rosidl_generator_pyExport.cmake` files shipped in the PyPI ROS wheels name the wheel
builder's Python include dir and numpy include dir; CMake refuses to configure a package that
depends on them (recap_msgs) until they name paths that exist here. Idempotent.
"""
import pathlib
import re
import sys
import sysconfig

import numpy

PREFIX = pathlib.Path(sys.prefix)
PY_INCLUDE = sysconfig.get_paths()["include"]
NUMPY_INCLUDE = numpy.get_include()
# Any foreign ".../include/python3.X" and ".../numpy/(_)core/include" path.
FOREIGN_PY = re.compile(r"[^;\"\s]*/include/python3\.\d+")
FOREIGN_NUMPY = re.compile(r"[^;\"\s]*/site-packages/numpy/_?core/include")


def main() -> int:
    changed = 0
    for path in sorted((PREFIX / "share").glob("*/cmake/*__rosidl_generator_pyExport.cmake")):
        text = path.read_text()
        new = FOREIGN_PY.sub(PY_INCLUDE, text)
        new = FOREIGN_NUMPY.sub(NUMPY_INCLUDE, new)
        if new != text:
            path.write_text(new)
            changed += 1
    print(f"rosidl cmake exports: {changed} file(s) rewritten for {PY_INCLUDE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
