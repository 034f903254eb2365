#include "actors/sd_notify.hpp"

#include <doctest/doctest.h>
