from setuptools import find_packages, setup

package_name = "recap_recorder"

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
    description="Episode recorder: one rosbag2 (MCAP) per episode from raw subscriptions, with outcome and intervention labels.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "episode_recorder = recap_recorder.recorder_node:main",
        "recap-recover = recap_recorder.recovery:main",
        "bag_player = recap_recorder.bag_player_node:main",
    ]},
)
