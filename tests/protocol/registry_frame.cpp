#include "protocol/registry_frame.hpp"

#include <doctest/doctest.h>
