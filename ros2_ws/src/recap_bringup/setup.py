from glob import glob

from setuptools import find_packages, setup

package_name = "recap_bringup"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml") + glob("config/*.xml")),
    ],
    install_requires=["setuptools", "PyYAML"],
    zip_safe=True,
    maintainer="RECAP-ROS maintainers",
    maintainer_email="maintainers@recap-ros.org",
    description="Launch files, configuration and the single description of the RECAP-ROS node graph.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["recap-bringup = recap_bringup.runner:main"]},
)
