from setuptools import find_packages, setup

package_name = "recap_policy"

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
    description="Policy node: action chunks from camera and joint observations, chunk scheduling and a control-rate command stream.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["policy_node = recap_policy.policy_node:main"]},
)
