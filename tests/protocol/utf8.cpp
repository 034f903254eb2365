#include "protocol/utf8.hpp"

#include <doctest/doctest.h>
