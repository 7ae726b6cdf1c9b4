from setuptools import find_packages, setup

package_name = "recap_lifecycle"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="RECAP-ROS maintainers",
    maintainer_email="maintainers@recap-ros.org",
    description="Managed (lifecycle) nodes of RECAP-ROS: the shared node base with its /diagnostics, and "
                "the client that drives the graph's transitions in order.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "drive_transitions = recap_lifecycle.transitions:main",
    ]},
)
