from setuptools import find_packages, setup

package_name = "recap_lab"

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
    description="The sim-driven lab: demonstrations, rollouts, evaluation, reports, experiments, the RECAP loop.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["recap-lab = recap_lab.cli:main"]},
)
