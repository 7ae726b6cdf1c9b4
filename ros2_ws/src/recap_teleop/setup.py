from setuptools import find_packages, setup

package_name = "recap_teleop"

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
    description="Arbitration node: policy or human command to the arms, takeover triggers, smooth handover and the "
                "safety filter; recap-console, the operator's terminal console.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["arbitration_node = recap_teleop.arbitration_node:main",
                                      "recap-console = recap_teleop.console_ui:main"]},
)
