#include "protocol/base64.hpp"

#include <doctest/doctest.h>
