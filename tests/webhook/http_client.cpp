#include "webhook/http_client.hpp"

#include <doctest/doctest.h>
