from glob import glob

from setuptools import find_packages, setup

package_name = "recap_core"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    # robot descriptions: read as package data by load_robot, and under share/ for launch files
    package_data={package_name: ["robots/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/robots", glob(package_name + "/robots/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="RECAP-ROS maintainers",
    maintainer_email="maintainers@recap-ros.org",
    description="ROS-free shared definitions of RECAP-ROS: the robot joint layout, gripper conventions and robot descriptions.",
    license="Apache-2.0",
    entry_points={"console_scripts": []},
)
