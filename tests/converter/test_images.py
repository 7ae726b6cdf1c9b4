"""Image decoding: the zero-copy Image path agrees with rosbags.image."""
import numpy as np
import pytest
from converter.bagfactory import TS, T, stamp
from rosbags.image import message_to_cvimage

from recap_trainer.bags.images import raw_image_view


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8", "16UC1"])
def test_raw_image_view_matches_rosbags_image(encoding):
    ch = 3 if encoding in ("rgb8", "bgr8") else 1
    dtype = np.uint16 if encoding == "16UC1" else np.uint8
    pixels = np.random.default_rng(0).integers(0, 255, (5, 7, ch)).astype(dtype)
    msg = T["sensor_msgs/msg/Image"](header=T["std_msgs/msg/Header"](stamp=stamp(123_456_789_012), frame_id="cam"),
                                     height=5, width=7, encoding=encoding, is_bigendian=0,
                                     step=7 * ch * pixels.itemsize, data=pixels.view(np.uint8).ravel())
    raw = bytes(TS.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    view = raw_image_view(raw)
    if encoding == "16UC1":
        assert view is None  # not an 8-bit colour image: the caller uses rosbags.image instead
        return
    ref = np.asarray(message_to_cvimage(TS.deserialize_cdr(raw, "sensor_msgs/msg/Image"), "rgb8"))
    ref = np.repeat(ref[:, :, None], 3, axis=2) if ref.ndim == 2 else ref
    assert view[0] == 123_456_789_012
    np.testing.assert_array_equal(view[1], ref)

