# -*- Python -*-
# Runs every GoogleTest binary under <build>/unittests as a lit test suite.

import os

import lit.formats

config.name = "QWHA-Unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.qwha_obj_root, "unittests")
config.test_source_root = config.test_exec_root
# Every binary whose name ends in "Tests" is a GoogleTest program.
config.test_format = lit.formats.GoogleTest(".", "Tests")
