module github.com/d5c4ca72/authtransport/scripts/mutate

go 1.25.0
