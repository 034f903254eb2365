#include "actors/log.hpp"

#include <doctest/doctest.h>
